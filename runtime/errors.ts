/**
 * Request-time failures. Every error a client can see is an AppError with a stable
 * upper-case `code`; one handler (runtime/routes/error-handler.ts) renders it as
 * application/problem+json. Anything else reaching that handler is a bug (500).
 */
export interface FieldError {
  path: string;
  message: string;
}

export class AppError extends Error {
  readonly status: number;
  readonly code: string;
  readonly title: string;
  readonly errors?: FieldError[];
  readonly headers?: Record<string, string>;

  constructor(
    status: number,
    code: string,
    detail: string,
    opts: { title?: string; errors?: FieldError[]; headers?: Record<string, string>; cause?: unknown } = {},
  ) {
    super(detail, { cause: opts.cause });
    this.name = "AppError";
    this.status = status;
    this.code = code;
    this.title = opts.title ?? defaultTitle(status);
    this.errors = opts.errors;
    this.headers = opts.headers;
  }

  toProblem(): Problem {
    const problem: Problem = {
      type: `https://sutazai.dev/problems/${this.code.toLowerCase().replaceAll("_", "-")}`,
      title: this.title,
      status: this.status,
      detail: this.message,
      code: this.code,
    };
    if (this.errors?.length) problem.errors = this.errors;
    return problem;
  }
}

export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: string;
  errors?: FieldError[];
}

/** Thrown at start-up for bad configuration; the message says how to fix it. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

const TITLES: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  413: "Payload Too Large",
  415: "Unsupported Media Type",
  422: "Unprocessable Content",
  429: "Too Many Requests",
  499: "Client Closed Request",
  500: "Internal Server Error",
  502: "Bad Gateway",
  503: "Service Unavailable",
  504: "Gateway Timeout",
};

function defaultTitle(status: number): string {
  return TITLES[status] ?? "Error";
}

export const notFound = (code: string, detail: string) => new AppError(404, code, detail);
export const badRequest = (code: string, detail: string, errors?: FieldError[]) =>
  new AppError(400, code, detail, { errors });

/** Turns zod issues into `{path, message}` pairs with dotted paths a user can read. */
export function fieldErrors(
  issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>,
): FieldError[] {
  return issues.map((issue) => ({
    path: issue.path.length ? issue.path.map(String).join(".") : "(root)",
    message: issue.message,
  }));
}

/** A thrown value as a plain `{code, message}` for storing in an invocation row. */
export function serializeError(err: unknown): { code: string; message: string; status: number } {
  if (err instanceof AppError) return { code: err.code, message: err.message, status: err.status };
  if (err instanceof Error) return { code: "FUNCTION_ERROR", message: err.message, status: 500 };
  return { code: "FUNCTION_ERROR", message: String(err), status: 500 };
}
