import jsqr from 'jsqr';
import { describe, expect, it } from 'vitest';
import { qrDataUrl, qrMatrix, qrSvg, qrTerminal, qrText } from '../../device-client/src/qr.js';

const URL_COMPLETE = 'http://localhost:8080/device?user_code=BCDF-GHJK';
const auth = { verificationUri: 'http://localhost:8080/device', verificationUriComplete: URL_COMPLETE };

/** Decode a grid of dark (true) / light modules with jsqr, 4 px per module. */
function decodeGrid(grid: boolean[][]): string | undefined {
  const scale = 4;
  const side = grid.length * scale;
  const pixels = new Uint8ClampedArray(side * side * 4);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = grid[Math.floor(y / scale)]![Math.floor(x / scale)] ? 0 : 255;
      pixels.set([v, v, v, 255], (y * side + x) * 4);
    }
  }
  return jsqr.default(pixels, side, side)?.data; // CJS: NodeNext types see the module, whose `default` is jsQR
}

describe('QR codes', () => {
  it('encodes verification_uri_complete, or verification_uri when there is none', () => {
    expect(qrText(auth)).toBe(URL_COMPLETE);
    expect(qrText({ verificationUri: 'http://localhost:8080/device' })).toBe('http://localhost:8080/device');
  });

  it('prints a terminal QR code, two modules per character, that decodes to the URL', () => {
    const text = qrTerminal(auth);
    const lines = text.split('\n');
    expect(text).toMatch(/^[ ▀▄█\n]+$/);
    // Back to modules: a drawn half is a light module (dark terminal background).
    const grid: boolean[][] = [];
    for (const line of lines) {
      const chars = [...line];
      grid.push(chars.map((c) => c !== '█' && c !== '▀'));
      grid.push(chars.map((c) => c !== '█' && c !== '▄'));
    }
    // Surround with a light border, as the terminal's dark background is not a quiet zone.
    const side = grid[0]!.length + 8;
    const padded = [...Array(4)].map(() => Array<boolean>(side).fill(false));
    const framed = [...padded, ...grid.map((row) => [false, false, false, false, ...row, false, false, false, false]), ...padded];
    expect(decodeGrid(framed)).toBe(URL_COMPLETE);
    expect(lines.length).toBeLessThanOrEqual(25);
  });

  it('draws an SVG and a data URL whose modules decode to the URL', () => {
    const svg = qrSvg(auth, { margin: 4 });
    expect(svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" viewBox="0 0 (\d+) \1"/);
    const qr = qrMatrix(auth);
    const grid = [...Array(qr.size + 8)].map((_, y) => [...Array(qr.size + 8)].map((_, x) => qr.get(x - 4, y - 4)));
    expect(decodeGrid(grid)).toBe(URL_COMPLETE);
    // The SVG path covers exactly the dark modules.
    const dark = [...svg.matchAll(/M(\d+) (\d+)h(\d+)/g)].reduce((n, m) => n + Number(m[3]), 0);
    expect(dark).toBe(grid.flat().filter(Boolean).length);
    expect(decodeURIComponent(qrDataUrl(auth).replace('data:image/svg+xml,', ''))).toBe(svg);
  });
});
