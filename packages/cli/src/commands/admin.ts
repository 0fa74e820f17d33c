import type { Command } from 'commander';
import type { Report } from '@parley/protocol';

/**
 * `parley admin …`: the operator's moderation tools. They call the admin HTTP API of a
 * running server (PARLEY_URL) with the operator token (PARLEY_OPERATOR_TOKEN), so they
 * work the same against a local server or one behind a load balancer.
 */
interface Target {
  url: string;
  token: string;
}

class CliError extends Error {}

function target(): Target {
  const token = process.env.PARLEY_OPERATOR_TOKEN;
  if (!token) throw new CliError('set PARLEY_OPERATOR_TOKEN to the server’s operator token');
  const url = (process.env.PARLEY_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  return { url, token };
}

async function call<T>(t: Target, method: string, path: string, body?: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(t.url + path, {
      method,
      headers: { authorization: `Bearer ${t.token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (err) {
    throw new CliError(`cannot reach ${t.url} (${(err as Error).message}); set PARLEY_URL`);
  }
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    const error = (parsed as { error?: { code?: string; message?: string } })?.error;
    if (res.status === 404 && error?.message?.includes('admin API is disabled')) throw new CliError('the server’s admin API is off: start it with PARLEY_OPERATOR_TOKEN set');
    throw new CliError(`${res.status} ${error?.code ?? ''}: ${error?.message ?? text}`.trim());
  }
  return parsed as T;
}

function printReport(r: Report): void {
  console.log(`${r.id}  ${r.status}  ${r.createdAt}`);
  console.log(`  reporter:  ${r.reporterId}`);
  console.log(`  reported:  ${r.reportedUserIds.join(', ')}`);
  console.log(`  in:        ${r.conversationId}  messages: ${r.messageIds.join(', ')}`);
  console.log(`  reason:    ${r.reason}`);
  for (const e of r.evidence) console.log(`  evidence:  [${e.messageId} from ${e.senderId}] ${e.content}`);
  if (r.status === 'resolved') console.log(`  resolved:  ${r.resolvedAt}  ${r.resolution}`);
}

async function run(work: () => Promise<void>): Promise<void> {
  try {
    await work();
  } catch (err) {
    if (!(err instanceof CliError)) throw err;
    console.error(`parley admin: ${err.message}`);
    process.exitCode = 1;
  }
}

export function registerAdmin(program: Command): void {
  const admin = program
    .command('admin')
    .description('operator tools: the moderation queue (PARLEY_URL, PARLEY_OPERATOR_TOKEN)');

  admin
    .command('reports')
    .description('list reports, oldest first')
    .option('--status <status>', 'open or resolved', 'open')
    .option('--limit <n>', 'how many (1-200)', '50')
    .option('--cursor <cursor>', 'continue after a previous page')
    .option('--json', 'print the API’s JSON')
    .action((opts: { status: string; limit: string; cursor?: string; json?: boolean }) =>
      run(async () => {
        if (opts.status !== 'open' && opts.status !== 'resolved') throw new CliError('--status must be open or resolved');
        const query = new URLSearchParams({ status: opts.status, limit: opts.limit });
        if (opts.cursor) query.set('cursor', opts.cursor);
        const page = await call<{ reports: Report[]; nextCursor: string | null }>(target(), 'GET', `/v1/admin/reports?${query}`);
        if (opts.json) {
          console.log(JSON.stringify(page, null, 2));
          return;
        }
        if (page.reports.length === 0) console.log(`no ${opts.status} reports`);
        for (const r of page.reports) printReport(r);
        if (page.nextCursor) console.log(`more: parley admin reports --status ${opts.status} --cursor ${page.nextCursor}`);
      }),
    );

  admin
    .command('resolve <id>')
    .description('resolve a report, recording what was done')
    .requiredOption('--note <text>', 'the resolution, for the record')
    .option('--json', 'print the API’s JSON')
    .action((id: string, opts: { note: string; json?: boolean }) =>
      run(async () => {
        const report = await call<Report>(target(), 'POST', `/v1/admin/reports/${encodeURIComponent(id)}/resolve`, { resolution: opts.note });
        if (opts.json) console.log(JSON.stringify(report, null, 2));
        else printReport(report);
      }),
    );
}
