/**
 * `kalm-device` as a child process, for the CLI tests: its output as it comes, its exit, and a
 * deadline for that exit. Not a test file.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import path from 'node:path';

/** The bin as `npx kalm-device` resolves it in this workspace: node_modules/.bin, a symlink to the package's bin. */
export const NPX_BIN = path.resolve('node_modules/.bin/kalm-device');

export interface CliRun {
  child: ChildProcessWithoutNullStreams;
  /** Resolves with the exit code (128 + n when killed by signal n), once stdout and stderr are read. */
  exit: Promise<number>;
  output(): { stdout: string; stderr: string };
  /** Resolves with the first match of `re` in stdout once it appears; rejects if the process ends first. */
  stdoutUntil(re: RegExp): Promise<RegExpMatchArray>;
  /** The exit code, or a failure naming the output if the process is still running `ms` after this call (it is then killed). */
  exitWithin(ms: number): Promise<number>;
}

const SIGNALS: Record<string, number> = { SIGINT: 2, SIGKILL: 9, SIGTERM: 15 };

/** Run `bin` (executable itself: the shebang picks node) with `args` and exactly `env`. */
export function runCli(bin: string, args: string[], env: NodeJS.ProcessEnv): CliRun {
  const child = spawn(bin, args, { env });
  let stdout = '';
  let stderr = '';
  const listeners: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    stdout += chunk;
    for (const l of listeners) l();
  });
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk));
  const exit = new Promise<number>((resolve) => child.on('close', (code, signal) => resolve(code ?? 128 + (SIGNALS[signal ?? ''] ?? 0))));
  return {
    child,
    exit,
    output: () => ({ stdout, stderr }),
    stdoutUntil(re) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = stdout.match(re);
          if (m) resolve(m);
        };
        listeners.push(check);
        check();
        void exit.then((code) => reject(new Error(`exited ${code} before ${re}: ${stdout}${stderr}`)));
      });
    },
    async exitWithin(ms) {
      let deadline: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_resolve, reject) => {
        deadline = setTimeout(() => {
          child.kill('SIGKILL');
          reject(new Error(`still running ${ms} ms later: ${stdout}${stderr}`));
        }, ms);
      });
      try {
        return await Promise.race([exit, late]);
      } finally {
        clearTimeout(deadline);
      }
    },
  };
}
