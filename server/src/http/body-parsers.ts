/**
 * The request body parsers of both HTTP stacks: body-parser, which works on plain
 * `http.IncomingMessage`/`ServerResponse` (Express's `express.urlencoded` and `express.json` are
 * these same functions). The protocol router reads form and JSON bodies with them, and the pages
 * app their forms, so both refuse a body alike (limits, charsets, content codings); what a
 * refusal is answered with is `fromParserError` in oauth-errors.ts.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import bodyParser from 'body-parser';
import { parseUrlencoded } from './form-urlencoded.js';

/** A body parser: reads and parses `req`'s body into `req.body`, or calls `next` with its refusal. */
export type BodyParser = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void;

/** A request whose body a parser has read: `body` is undefined when there was none of the parser's type. */
export type ParsedRequest = IncomingMessage & { body?: unknown };

const PARAMETER_LIMIT = 100;
const FORM_TYPE = 'application/x-www-form-urlencoded';

/**
 * `application/x-www-form-urlencoded` bodies up to `limit` bytes and 100 parameters; repeated
 * names become arrays (which the protocol refuses, and the pages read as lists).
 *
 * body-parser's urlencoded parser, except for the request nearly every client sends (exactly
 * that content type, no charset parameter): its body is read by the same reader (body-parser's
 * text parser: the same limit, length, abort and content-coding handling, UTF-8) and
 * parsed by form-urlencoded.ts, which answers as the urlencoded parser would, 7 % of a pending
 * poll's CPU cheaper.
 */
export function formBodyParser(limit: number): BodyParser {
  const urlencoded = bodyParser.urlencoded({ extended: false, limit, parameterLimit: PARAMETER_LIMIT });
  const utf8Text = bodyParser.text({ type: () => true, limit, defaultCharset: 'utf-8' });
  return (req, res, next) => {
    if (req.headers['content-type'] !== FORM_TYPE) {
      urlencoded(req, res, next);
      return;
    }
    utf8Text(req, res, (err) => {
      const parsed = req as ParsedRequest;
      if (err || typeof parsed.body !== 'string') {
        next(err); // a refusal, or no body at all (left undefined, as the urlencoded parser leaves it)
        return;
      }
      try {
        parsed.body = parseUrlencoded(parsed.body, PARAMETER_LIMIT);
      } catch (refusal) {
        next(refusal);
        return;
      }
      next();
    });
  };
}

/** `application/json` bodies up to `limit` bytes whose top level is an object or an array. */
export function jsonBodyParser(limit: number): BodyParser {
  return bodyParser.json({ limit, strict: true });
}

/** Run `parser` on `req`: resolves once `req.body` is set (or left undefined), rejects with the parser's refusal. */
export function readBody(parser: BodyParser, req: IncomingMessage, res: ServerResponse): Promise<ParsedRequest> {
  return new Promise((resolve, reject) => {
    parser(req, res, (err) => (err ? reject(err) : resolve(req)));
  });
}
