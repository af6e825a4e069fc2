'use strict';
/**
 * One local Lambda execution environment: loads the function's bundle from LAMBDA_TASK_ROOT as the Node
 * runtime does (`_HANDLER` = `file.export`, CommonJS), then runs one invocation at a time for its parent.
 * JSON in, JSON out; a thrown error becomes `{ errorType: error.name, errorMessage, trace }`, exactly the
 * fields the runtime reports and Step Functions matches on. Plain JavaScript, run by `node` without any
 * loader, so nothing of the project's TypeScript toolchain reaches the function.
 */
const { join } = require('node:path');

const taskRoot = process.env.LAMBDA_TASK_ROOT;
const handlerSpec = process.env._HANDLER ?? '';

function describe(error, fallbackType) {
  if (error instanceof Error) {
    return {
      errorType: error.name || fallbackType,
      errorMessage: error.message,
      trace: String(error.stack ?? '').split('\n'),
    };
  }
  return { errorType: fallbackType, errorMessage: String(error), trace: [] };
}

let handler;
let initError;
try {
  const dot = handlerSpec.lastIndexOf('.');
  if (dot <= 0)
    throw Object.assign(new Error(`Bad handler ${handlerSpec}`), { name: 'Runtime.MalformedHandlerName' });
  const module = require(join(taskRoot, handlerSpec.slice(0, dot)));
  handler = module[handlerSpec.slice(dot + 1)];
  if (typeof handler !== 'function') {
    throw Object.assign(new Error(`${handlerSpec} is undefined or not exported`), {
      name: 'Runtime.HandlerNotFound',
    });
  }
} catch (error) {
  initError = describe(error, 'Runtime.ImportModuleError');
  if (!String(initError.errorType).startsWith('Runtime.')) initError.errorType = 'Runtime.ImportModuleError';
}

process.on('unhandledRejection', (reason) => {
  process.send({ fatal: describe(reason, 'Runtime.UnhandledPromiseRejection') }, () => process.exit(128));
});
process.on('uncaughtException', (error) => {
  process.send({ fatal: describe(error, 'Runtime.ExitError') }, () => process.exit(129));
});

process.on('message', (message) => {
  const { id, payload, requestId, deadlineMs, functionArn } = message;
  if (initError !== undefined) {
    process.send({ id, error: initError });
    return;
  }
  const context = {
    callbackWaitsForEmptyEventLoop: true,
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    getRemainingTimeInMillis: () => Math.max(0, deadlineMs - Date.now()),
  };
  Promise.resolve()
    .then(() => handler(JSON.parse(payload), context))
    .then(
      (result) => process.send({ id, result: result === undefined ? 'null' : JSON.stringify(result) }),
      (error) => process.send({ id, error: describe(error, 'Error') }),
    );
});

process.send({ ready: true });
