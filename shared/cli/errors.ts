/** A CLI refusal with a message meant for the user (printed as one line, exit code 2). */
export class CliError extends Error {
  override readonly name = "CliError";
}
