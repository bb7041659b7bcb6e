// The push cap counts clients under the same key as every other per-address limit.
export { addressKey } from '../http/client-address.js';
