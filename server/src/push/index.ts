export { attachPush, type PushEndpoint } from './endpoint.js';
export { PUSH_CLOSE, pushLimits, type PushLimits } from './limits.js';
export type { PushMessage, PushStatus, SubscribeRequest } from './protocol.js';
