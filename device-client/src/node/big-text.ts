// A 5×5 block font for user codes: RFC 8628 §6.1 codes are letters and digits, read
// from across a room or typed on a phone, so the CLI prints them large.
const GLYPHS: Record<string, string> = {
  A: ' ### #   #######   ##   #', B: '#### #   ##### #   ##### ', C: ' #####    #    #     ####',
  D: '#### #   ##   ##   ##### ', E: '######    #### #    #####', F: '######    #### #    #    ',
  G: ' #####    #  ###   # ####', H: '#   ##   #######   ##   #', I: '#####  #    #    #  #####',
  J: '#####   #    # #  #  ##  ', K: '#   ##  # ###  #  # #   #', L: '#    #    #    #    #####',
  M: '#   ### ### # ##   ##   #', N: '#   ###  ## # ##  ###   #', O: ' ### #   ##   ##   # ### ',
  P: '#### #   ##### #    #    ', Q: ' ### #   ## # ##  #  ## #', R: '#### #   ##### #  # #   #',
  S: ' #####     ###     ##### ', T: '#####  #    #    #    #  ', U: '#   ##   ##   ##   # ### ',
  V: '#   ##   ##   # # #   #  ', W: '#   ##   ## # ### ###   #', X: '#   # # #   #   # # #   #',
  Y: '#   # # #   #    #    #  ', Z: '#####   #   #   #   #####', '0': ' ### #  ### # ###  # ### ',
  '1': '  #   ##    #    #   ### ', '2': ' ### #   #  ##  #   #####', '3': '####     # ###     ##### ',
  '4': '#   ##   ######    #    #', '5': '######    ####     ##### ', '6': ' ### #    #### #   # ### ',
  '7': '#####   #   #   #    #   ', '8': ' ### #   # ### #   # ### ', '9': ' ### #   # ####    # ### ',
  '-': '          ####           ', ' ': '                         ',
};

/** `text` in 5-line block letters; characters without a glyph are shown as spaces. */
export function bigText(text: string): string {
  const rows: string[] = ['', '', '', '', ''];
  for (const char of text.toUpperCase()) {
    const glyph = (GLYPHS[char] ?? GLYPHS[' ']!).padEnd(25);
    for (let row = 0; row < 5; row++) rows[row] += `${glyph.slice(row * 5, row * 5 + 5).replace(/#/g, '█')}  `;
  }
  return rows.map((r) => r.trimEnd()).join('\n');
}
