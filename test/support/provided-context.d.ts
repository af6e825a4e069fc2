// Values the integration project's global setup hands to every test file through `inject`.
declare module 'vitest' {
  export interface ProvidedContext {
    dynamoDbEndpoint: string;
  }
}
export {};
