// The checkpointer's thread (checkpointer.ts): its own connection to the database, which copies
// the WAL into the database file whenever the server's connection says enough was written.
// Plain JavaScript: a worker thread does not inherit the tsx loader the server runs under.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

const db = new Database(workerData.file, { fileMustExist: true });
// A checkpoint fsyncs the WAL before it copies frames and the database file after (as SQLite's
// own automatic checkpoints do under the server's synchronous = NORMAL), so nothing the WAL holds
// is dropped before the database file has it on disk.
db.pragma('synchronous = NORMAL');
// PASSIVE never waits for a lock: a checkpoint that finds the writer or a reader in its way
// copies what it can, and the next message tries again.
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

parentPort.on('message', (message) => {
  if (message === 'close') {
    db.close();
    parentPort.close();
    return;
  }
  const { log, checkpointed } = checkpoint.get();
  parentPort.postMessage({ frames: log, copied: checkpointed });
});
