// asl-validator ships no type declarations; this is the part of its API rejuv uses.
declare module 'asl-validator' {
  interface ValidationError {
    readonly 'Error code': string;
    readonly Message: string;
  }
  interface ValidationResult {
    readonly isValid: boolean;
    readonly errors: readonly ValidationError[];
  }
  function validator(
    definition: unknown,
    options?: { checkPaths?: boolean; checkArn?: boolean },
  ): ValidationResult;
  export = validator;
}
