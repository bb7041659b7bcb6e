/**
 * `@kalm/device-client/qr`: the QR code of a device authorization, as terminal
 * text, an SVG string or a data URL. A separate entry so the core stays small.
 * Encoder chosen on measurement (esbuild, browser, minified, gzip -9, encode one URL
 * to modules): qrcode 1.5 9.6 KB, uqr 0.1 4.0 KB, lean-qr 2.7 3.7 KB, lean-qr/nano
 * 2.1 KB. The nano build lacks only what we do not need (mode choice, canvas export).
 *
 * @packageDocumentation
 */
import { correction, generate } from 'lean-qr/nano';

/** What to encode: a URL, or a device authorization (its `verificationUriComplete`, else `verificationUri`). */
export type QrInput = string | { verificationUri: string; verificationUriComplete?: string | undefined };

/** A QR code as a square of modules: `get(x, y)` is true for a dark module. */
export interface QrMatrix {
  /** Modules per side, without the quiet zone. */
  size: number;
  /** True when the module at column `x`, row `y` is dark; false outside the code. */
  get(x: number, y: number): boolean;
}

/** The text a QR code of `input` encodes: RFC 8628 §3.3.1 prefers `verification_uri_complete`. */
export function qrText(input: QrInput): string {
  return typeof input === 'string' ? input : (input.verificationUriComplete ?? input.verificationUri);
}

/**
 * The QR code's modules. Error correction at least M (15 %): a TV screen photographed
 * from a sofa at an angle loses some modules to glare.
 */
export function qrMatrix(input: QrInput): QrMatrix {
  return generate(qrText(input), { minCorrectionLevel: correction.M });
}

/** Options of {@link qrSvg}. */
export interface SvgOptions {
  /** Quiet zone in modules (ISO/IEC 18004 asks for 4). Default 4. */
  margin?: number;
  /** Colour of dark modules. Default `#000`. */
  dark?: string;
  /** Background colour; `none` for transparent. Default `#fff`. */
  light?: string;
}

/**
 * The QR code as an SVG string: one path, one unit per module, scaled by CSS.
 *
 * @example
 * ```ts
 * element.innerHTML = qrSvg(auth)
 * ```
 */
export function qrSvg(input: QrInput, options: SvgOptions = {}): string {
  const { margin = 4, dark = '#000', light = '#fff' } = options;
  const qr = qrMatrix(input);
  const side = qr.size + 2 * margin;
  let path = '';
  for (let y = 0; y < qr.size; y++) {
    for (let x = 0; x < qr.size; x++) {
      // One horizontal run of dark modules per `h` segment keeps the path short.
      if (!qr.get(x, y)) continue;
      let run = 1;
      while (qr.get(x + run, y)) run++;
      path += `M${x + margin} ${y + margin}h${run}v1h-${run}z`;
      x += run;
    }
  }
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${side} ${side}" shape-rendering="crispEdges">` +
    `<rect width="${side}" height="${side}" fill="${light}"/><path fill="${dark}" d="${path}"/></svg>`
  );
}

/**
 * The QR code as a `data:image/svg+xml` URL, for an `<img src>` (allowed by a CSP
 * with `img-src data:`).
 */
export function qrDataUrl(input: QrInput, options?: SvgOptions): string {
  return `data:image/svg+xml,${encodeURIComponent(qrSvg(input, options))}`;
}

/** Options of {@link qrTerminal}. */
export interface TerminalOptions {
  /** Quiet zone in modules. Default 2 (terminals add their own dark surround). */
  margin?: number;
  /**
   * Draw dark modules as blocks, for a terminal with a light background. Default false:
   * on the usual dark background the light modules are drawn, so the code reads dark-on-light.
   */
  invert?: boolean;
}

/**
 * The QR code as terminal text, two modules per character with half blocks
 * (`▀ ▄ █`), so it stays square and small in an 80-column terminal.
 */
export function qrTerminal(input: QrInput, options: TerminalOptions = {}): string {
  const { margin = 2, invert = false } = options;
  const qr = qrMatrix(input);
  const lit = (x: number, y: number) => qr.get(x, y) === invert;
  const lines: string[] = [];
  for (let y = -margin; y < qr.size + margin; y += 2) {
    let line = '';
    for (let x = -margin; x < qr.size + margin; x++) {
      const top = lit(x, y);
      const bottom = y + 1 < qr.size + margin && lit(x, y + 1);
      line += top ? (bottom ? '█' : '▀') : bottom ? '▄' : ' ';
    }
    lines.push(line);
  }
  return lines.join('\n');
}
