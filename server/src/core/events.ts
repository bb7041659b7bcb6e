/**
 * What core announces when a decision about a device is taken. Transports (the
 * WebSocket hub, the MQTT bridge) listen; core never knows who. Small on
 * purpose, so a cross-instance bus (Redis, NATS, Postgres LISTEN) can implement it.
 */
export type DeviceEvent = (
  | { type: 'approved' | 'denied' | 'expired'; deviceCodeId: number }
  | { type: 'revoked'; grantId: string }
) & {
  /**
   * Taken by another server process on the same database, and read back from it
   * (core/cross-process.ts); absent when taken here.
   */
  remote?: true;
};

export type DeviceEventListener = (event: DeviceEvent) => void;

export interface DeviceEvents {
  publish(event: DeviceEvent): void;
  /** Returns the function that unsubscribes. */
  subscribe(listener: DeviceEventListener): () => void;
}

/** The in-process bus: listeners run synchronously; one that throws does not stop the others. */
export function createDeviceEvents(onListenerError: (err: unknown) => void = () => {}): DeviceEvents {
  const listeners = new Set<DeviceEventListener>();
  return {
    publish(event) {
      for (const listener of listeners) {
        try {
          listener(event);
        } catch (err) {
          onListenerError(err);
        }
      }
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
