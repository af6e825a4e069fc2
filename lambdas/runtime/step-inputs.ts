/** Input schemas shared by several steps. */
import { z } from 'zod';
import { CaughtErrorSchema, WorkflowContextSchema } from '../../shared/workflow/workflow-context.js';

export const ContextInputSchema = z.object({ ctx: WorkflowContextSchema }).strict();
export const OptionalCaughtErrorSchema = CaughtErrorSchema.nullish();
