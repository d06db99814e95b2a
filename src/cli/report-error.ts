/**
 * The CLI's last word on a failed command: one stderr line `lmforge: <where>: <what>` and
 * an exit code. 2 is a user error: a typed LmforgeError, a file-system error on a path the
 * user gave (ENOENT, EEXIST, EACCES, ...), or an input past a limit of this process (a
 * file over 2 GiB for a one-piece read, nesting past the stack, an allocation too big).
 * 1 is a bug: the line says so and how to see the stack (LMFORGE_DEBUG=1). Library code
 * should already throw typed errors naming the file or field; this is the safety net that
 * keeps a raw Node stack from ever reaching the user.
 */
import { LmforgeError } from '../util/errors.js';

export interface ErrorReport {
  /** The final stderr line, without a newline. */
  readonly line: string;
  readonly exitCode: 1 | 2;
}

const ERRNO_WORDS: Readonly<Record<string, string>> = {
  ENOENT: 'no such file or directory',
  EEXIST: 'already exists',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EISDIR: 'is a folder, expected a file',
  ENOTDIR: 'a part of the path is a file, expected a folder',
  ENOTEMPTY: 'the folder is not empty',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  EMFILE: 'too many open files in this process',
  ENFILE: 'too many open files in the system',
  EROFS: 'the file system is read-only',
  ENAMETOOLONG: 'the file name is too long',
  ELOOP: 'too many levels of symbolic links',
  EXDEV: 'cannot move across file systems',
  EBUSY: 'the file or folder is busy',
};

/** RangeError messages that mean "the input asks for more than this process can hold". */
const ALLOCATION =
  /^(Array buffer allocation failed|Invalid (typed )?array length|Invalid string length|Invalid array buffer length)/;

interface ErrnoLike {
  readonly code: string;
  readonly syscall?: string;
  readonly path?: string;
  readonly dest?: string;
}

function errnoOf(error: unknown): ErrnoLike | null {
  for (let e = error, depth = 0; e instanceof Error && depth < 8; e = e.cause, depth++) {
    const code = (e as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && code in ERRNO_WORDS) return e as unknown as ErrnoLike;
  }
  return null;
}

/** One line, whatever the message holds. */
function oneLine(text: string): string {
  return text.replace(/\r?\n/g, '\\n');
}

/** `where` values such as 'lmforge train' already name the program: print the prefix once. */
function withoutProgramName(message: string): string {
  const match = /^lmforge((?: [a-z]+)*): /.exec(message);
  if (match === null) return message;
  const command = match[1]!.trim();
  return (command === '' ? '' : `${command}: `) + message.slice(match[0].length);
}

/** Named by its path; without one (a read or write on an open file) by what was being done. */
function describeErrno(e: ErrnoLike, activity: string): string {
  let words = ERRNO_WORDS[e.code]!;
  if (e.code === 'EEXIST' && e.syscall === 'mkdir') words = 'exists and is not a folder';
  if (e.path === undefined) return `${activity}: ${words}${e.syscall === undefined ? '' : ` (${e.syscall})`}`;
  return `${e.path}${e.dest === undefined ? '' : ` -> ${e.dest}`}: ${words}`;
}

/**
 * The report for an error that ended a command. `activity` names what the user asked for
 * (e.g. `eval runs/demo`), for errors that carry no file or field of their own.
 */
export function reportError(error: unknown, activity: string): ErrorReport {
  const line = (message: string, exitCode: 1 | 2): ErrorReport => ({
    line: `lmforge: ${oneLine(message)}`,
    exitCode,
  });
  if (error instanceof LmforgeError) return line(withoutProgramName(error.message), 2);
  const errno = errnoOf(error);
  if (errno !== null) return line(describeErrno(errno, activity), 2);
  const code = (error as NodeJS.ErrnoException | null)?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (code === 'ERR_FS_FILE_TOO_LARGE') {
    return line(
      `${activity}: a file is larger than 2 GiB, more than can be read in one piece (${message})`,
      2,
    );
  }
  if (error instanceof RangeError && message.startsWith('Maximum call stack size exceeded')) {
    return line(`${activity}: the input is nested too deeply to process (${message})`, 2);
  }
  if (error instanceof RangeError && ALLOCATION.test(message)) {
    return line(`${activity}: the input asks for more memory than can be allocated (${message})`, 2);
  }
  if (code === 'ERR_MODULE_NOT_FOUND') {
    return line(`${activity}: lmforge is not installed completely (${message}); reinstall it`, 1);
  }
  const name = error instanceof Error ? error.name : typeof error;
  return line(
    `${activity}: internal error: ${name}: ${message} (a bug in lmforge; set LMFORGE_DEBUG=1 to see the stack)`,
    1,
  );
}
