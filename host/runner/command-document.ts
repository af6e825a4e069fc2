/**
 * The part of SSM's Command document format (schemaVersion 2.2) the local runner understands: typed
 * parameters with defaults, allowedValues and allowedPattern, aws:runShellScript steps, and
 * aws:downloadContent steps (download-content.ts; their inputs are checked when the step is prepared).
 */
import { z } from 'zod';

export const PARAMETER_TYPES = [
  'String',
  'Integer',
  'Boolean',
  'StringList',
  'StringMap',
  'MapList',
] as const;

export const DocumentParameterSchema = z
  .object({
    type: z.enum(PARAMETER_TYPES),
    description: z.string().optional(),
    default: z.unknown().optional(),
    allowedValues: z.array(z.string()).optional(),
    allowedPattern: z.string().optional(),
    minChars: z.number().int().nonnegative().optional(),
    maxChars: z.number().int().positive().optional(),
  })
  .loose();

export const RunShellScriptStepSchema = z
  .object({
    action: z.string(),
    name: z.string().regex(/^[A-Za-z0-9_.-]{1,100}$/, 'step name'),
    precondition: z.object({ StringEquals: z.tuple([z.string(), z.string()]) }).optional(),
    onFailure: z.literal('exit').optional(),
    inputs: z
      .object({
        // Required of aws:runShellScript (checked when the step is prepared); absent from other actions.
        runCommand: z.union([z.array(z.string()), z.string()]).optional(),
        timeoutSeconds: z.union([z.string(), z.number()]).optional(),
        workingDirectory: z.string().optional(),
      })
      .loose(),
  })
  .loose();

export const CommandDocumentSchema = z
  .object({
    schemaVersion: z.literal('2.2'),
    description: z.string().optional(),
    parameters: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), DocumentParameterSchema).default({}),
    mainSteps: z.array(RunShellScriptStepSchema).min(1),
  })
  .loose();

export type DocumentParameter = z.output<typeof DocumentParameterSchema>;
export type CommandDocumentStep = z.output<typeof RunShellScriptStepSchema>;
export type CommandDocument = z.output<typeof CommandDocumentSchema>;
export type CommandDocumentInput = z.input<typeof CommandDocumentSchema>;
