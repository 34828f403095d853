import { spawn } from "node:child_process";
import { createWriteStream, existsSync } from "node:fs";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { builtinTrainerOf } from "../../../shared/messages/jobs.ts";
import type { Logger } from "../../../shared/ports.ts";

/**
 * The trainer as a child process: its output streamed line by line into the job's logs and a
 * `train.log`, the tail of its stderr kept for the failure reason, and a way to stop it that
 * gives it a moment to finish its checkpoint first.
 */
const BASELINE_TRAINER = fileURLToPath(new URL("../trainers/baseline.ts", import.meta.url));
/** `--import tsx` resolves from the working directory: run the baseline from the repository root. */
const REPOSITORY_ROOT = fileURLToPath(new URL("../../../", import.meta.url));
/** In the built job (dist/jobs/train, the job image) the baseline is a bundle next to this code. */
const BUNDLED_BASELINE = fileURLToPath(new URL("./trainer-baseline.js", import.meta.url));

/** The reference PyTorch U-Net: copied next to the bundle by `npm run build`, else in the sources. */
const BUNDLED_UNET = fileURLToPath(new URL("./unet/train_unet.py", import.meta.url));
const SOURCE_UNET = join(REPOSITORY_ROOT, "infra", "jobs", "train", "unet", "train_unet.py");

function baselineArgs(): string[] {
  return existsSync(BUNDLED_BASELINE) ? [BUNDLED_BASELINE] : ["--import", "tsx", BASELINE_TRAINER];
}

/** What runs for a TRAINER_COMMAND: a program and its arguments, or a shell command line. */
export type TrainerInvocation = { kind: "program"; file: string; args: string[]; cwd: string | undefined } | { kind: "shell"; command: string };

export function trainerInvocation(command: string | null): TrainerInvocation {
  const builtin = command === null ? "baseline" : builtinTrainerOf(command);
  if (builtin === "baseline") return { kind: "program", file: process.execPath, args: baselineArgs(), cwd: existsSync(BUNDLED_BASELINE) ? undefined : REPOSITORY_ROOT };
  // The trainer image's own Python (PATH), which must carry PyTorch, NumPy and Pillow.
  if (builtin === "unet") return { kind: "program", file: "python3", args: [existsSync(BUNDLED_UNET) ? BUNDLED_UNET : SOURCE_UNET], cwd: undefined };
  return { kind: "shell", command: command! };
}
const STDERR_TAIL_LINES = 20;

/** Variables the team's trainer must not inherit: it needs none of the loop's secrets. */
export const SECRET_ENV_KEYS = ["DB_PASSWORD", "DATABASE_URL", "ENCORD_SSH_KEY", "ENCORD_SSH_KEY_FILE", "SLACK_BOT_TOKEN"] as const;

export interface TrainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Set when the process could not be started at all. */
  spawnError: string | null;
}

export interface TrainerProcess {
  readonly pid: number | undefined;
  /** Resolves when the process has exited and its output (and train.log) is fully written. */
  readonly done: Promise<TrainerExit>;
  stderrTail(): string[];
  /** SIGTERM to the trainer's process group; SIGKILL if it is still running after `graceMs`. */
  terminate(graceMs: number): Promise<TrainerExit>;
}

export interface StartTrainerOptions {
  /** TRAINER_COMMAND (run by the shell), or null for the built-in baseline trainer. */
  command: string | null;
  env: Record<string, string>;
  log: Logger;
  logFile: string;
}

export function describeTrainerCommand(command: string | null): string {
  const run = trainerInvocation(command);
  return run.kind === "shell" ? run.command : [run.file, ...run.args].join(" ");
}

export function startTrainer(options: StartTrainerOptions): TrainerProcess {
  // A process group of its own, so SIGTERM reaches the trainer even when a shell started it.
  const run = trainerInvocation(options.command);
  const child =
    run.kind === "shell"
      ? spawn(run.command, { shell: true, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true })
      : spawn(run.file, run.args, { cwd: run.cwd, env: options.env, stdio: ["ignore", "pipe", "pipe"], detached: true });

  const logFile = createWriteStream(options.logFile, { flags: "a" });
  const tail: string[] = [];
  let spawnError: string | null = null;
  child.on("error", (err) => {
    spawnError = err.message;
  });

  const pump = (stream: NodeJS.ReadableStream, name: "stdout" | "stderr") => {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on("line", (line) => {
      logFile.write(name === "stderr" ? `[stderr] ${line}\n` : `${line}\n`);
      if (name === "stderr") {
        tail.push(line);
        if (tail.length > STDERR_TAIL_LINES) tail.shift();
        options.log.warn(line, { stream: name });
      } else {
        options.log.info(line, { stream: name });
      }
    });
    return once(lines, "close");
  };
  const pumps = Promise.all([pump(child.stdout, "stdout"), pump(child.stderr, "stderr")]);

  const done = (async (): Promise<TrainerExit> => {
    const [code, signal] = (await once(child, "close").catch((err: Error) => {
      spawnError = err.message;
      return [null, null];
    })) as [number | null, NodeJS.Signals | null];
    await pumps.catch(() => undefined);
    logFile.end();
    await once(logFile, "finish").catch(() => undefined);
    return { code, signal, spawnError };
  })();

  const signalGroup = (signal: NodeJS.Signals) => {
    if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
    try {
      process.kill(-child.pid, signal);
    } catch {
      child.kill(signal);
    }
  };

  return {
    pid: child.pid,
    done,
    stderrTail: () => [...tail],
    async terminate(graceMs: number) {
      signalGroup("SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
      const first = await Promise.race([done, timeout]);
      clearTimeout(timer);
      if (first === "timeout") signalGroup("SIGKILL");
      return done;
    },
  };
}
