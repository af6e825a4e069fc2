/**
 * aws-local-stepfunctions 3 uses Promise.withResolvers (Node 22+). On Node 20 every Task state would fail
 * with "Promise.withResolvers is not a function", so this must be imported before the interpreter runs.
 */
interface WithResolvers<T> {
  promise: Promise<T>;
  resolve: (value: T | PromiseLike<T>) => void;
  reject: (reason?: unknown) => void;
}

const PromiseWithOptionalResolvers = Promise as unknown as { withResolvers?: <T>() => WithResolvers<T> };

if (typeof PromiseWithOptionalResolvers.withResolvers !== 'function') {
  PromiseWithOptionalResolvers.withResolvers = <T>(): WithResolvers<T> => {
    let resolve!: (value: T | PromiseLike<T>) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

export {};
