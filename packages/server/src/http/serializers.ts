import { History, SyncResult } from '@parley/protocol';
import fastJson from 'fast-json-stringify';
import { serializerCompiler as zodSerializerCompiler } from 'fastify-type-provider-zod';
import { z } from 'zod';

/**
 * The response schemas whose bodies are large and plain data (no transforms): a history
 * page (up to 200 envelopes) and a sync answer (every changed conversation with its
 * members), the catch-up path. Zod parsed every row of them again at response time (~6 µs
 * an envelope here); these are compiled once, at start, into a fast-json-stringify
 * serializer from the same schema's JSON Schema, which writes the declared fields only —
 * as zod's encode did, so nothing undeclared can leak — without checking each value.
 */
const PRECOMPILED: readonly z.ZodType[] = [History, SyncResult];

/** JSON Schema keywords that validate and do not shape the output: a serializer needs none of them. */
const VALIDATION_ONLY = new Set(['$schema', 'description', 'pattern', 'minLength', 'maxLength', 'minimum', 'maximum', 'format']);

/**
 * What fast-json-stringify compiles best: no validation keywords, and zod's nullable
 * (`anyOf: [X, {type: "null"}]`) as `type: [X, "null"]`, which it writes without running a
 * validator on every value to pick the branch.
 */
export function forSerializer(schema: unknown): unknown {
  if (Array.isArray(schema)) return schema.map(forSerializer);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    // `properties` names fields, which may be called anything (a field named "pattern" stays).
    if (key === 'properties') out[key] = Object.fromEntries(Object.entries(value as object).map(([k, v]) => [k, forSerializer(v)]));
    else if (!VALIDATION_ONLY.has(key)) out[key] = forSerializer(value);
  }
  const anyOf = out.anyOf as Record<string, unknown>[] | undefined;
  if (anyOf?.length === 2) {
    const other = anyOf.find((s) => s.type !== 'null');
    if (other && anyOf.some((s) => s.type === 'null') && typeof other.type === 'string') {
      const { anyOf: _nullable, ...rest } = out;
      return { ...rest, ...other, type: [other.type, 'null'] };
    }
  }
  return out;
}

/** A serializer for `schema`, compiled now. */
export function precompile(schema: z.ZodType): (data: unknown) => string {
  return fastJson(forSerializer(z.toJSONSchema(schema, { io: 'output', target: 'draft-7' })) as Parameters<typeof fastJson>[0]);
}

type RouteSchema = Parameters<typeof zodSerializerCompiler>[0];

/**
 * The app's serializer compiler: the precompiled serializers for the schemas above, zod
 * (validate, then JSON.stringify) for every other response.
 */
export function serializerCompiler(route: RouteSchema): (data: unknown) => string {
  const schema = route.schema as unknown;
  if (PRECOMPILED.includes(schema as z.ZodType)) return precompile(schema as z.ZodType);
  return zodSerializerCompiler(route);
}
