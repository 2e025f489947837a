import {
  spawn,
  spawnSync,
  type ChildProcess,
  type SpawnOptions,
  type SpawnSyncOptionsWithStringEncoding,
  type SpawnSyncReturns,
} from 'node:child_process';

/*
 * Our CLI as its own process: Node itself with tsx's loader, not the tsx launcher. The launcher runs
 * the program in a child process of its own, so a signal meant for leadflow hits the launcher first
 * (SIGKILL leaves the program running as an orphan; SIGTERM can end the launcher with 143 instead of
 * the program's own exit code).
 */
const CLI = ['--import', 'tsx', 'src/cli/main.ts'];

export function spawnCli(args: readonly string[], options: SpawnOptions = {}): ChildProcess {
  return spawn(process.execPath, [...CLI, ...args], options);
}

/** Runs the CLI to completion (it must not need this process to answer it: this one is blocked). */
export function spawnCliSync(
  args: readonly string[],
  options: SpawnSyncOptionsWithStringEncoding,
): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [...CLI, ...args], options);
}
