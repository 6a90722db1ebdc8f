/**
 * The task page's script (/dashboard/tasks.js, bundled by routes.ts): the admin key in sessionStorage, the
 * claim in localStorage (a reload picks the task up again), every change through the task API. Text goes in
 * through textContent only; only http(s) URLs become links or images.
 */
import { PROFILE_FIELDS } from '#shared/customer-store';
import { $, el, fill, row, set } from './dom.ts';

interface Claim {
  by: string;
  token: number;
  expiresAt: string;
}
interface ProofImage {
  state: string;
  url: string | null;
}
interface Task {
  id: string;
  kind: string;
  status: string;
  jobId: string;
  customerId: string;
  directoryId: string;
  directoryName: string;
  submissionUrl: string;
  reason: string | null;
  claim: Claim | null;
  ledgerStatus: string;
  outcome: string | null;
  proofs: { screenshots: { form: ProofImage; result: ProofImage } }[];
}

const KEY = 'formfleet.adminKey';
const OPERATOR = 'formfleet.operator';
const CLAIM = 'formfleet.claim';

const isWeb = (url: string | null | undefined): url is string => !!url && /^https?:\/\//i.test(url);

async function api<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(path, {
    method,
    headers: {
      'x-api-key': sessionStorage.getItem(KEY) ?? '',
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const parsed = (await res.json().catch(() => ({}))) as T;
  if (res.status === 403) {
    sessionStorage.removeItem(KEY);
    showLogin('That key is not an admin key of this API.');
  }
  return { status: res.status, body: parsed };
}

const errorText = (body: unknown) =>
  (body as { error?: { message?: string } }).error?.message ?? 'the API refused it';

function showLogin(message = ''): void {
  ($('tasks.login') as HTMLFormElement).hidden = false;
  ($('tasks.main') as HTMLElement).hidden = true;
  set('tasks.message', message);
}

function storedClaim(): { taskId: string; token: number } | null {
  try {
    return JSON.parse(localStorage.getItem(CLAIM) ?? 'null');
  } catch {
    return null;
  }
}

async function loadList(): Promise<void> {
  const [open, claimed] = await Promise.all(
    ['open', 'claimed'].map((status) =>
      api<{ items: Task[] }>('GET', `/v1/tasks?status=${status}&limit=200`),
    ),
  );
  const tasks = [...(open?.body.items ?? []), ...(claimed?.body.items ?? [])].sort((a, b) =>
    a.id === b.id ? 0 : a.id < b.id ? -1 : 1,
  );
  fill(
    'tasks.list',
    tasks.map((t) => {
      const mine = storedClaim()?.taskId === t.id;
      const button = el('button', mine ? 'Open' : 'Claim') as HTMLButtonElement;
      button.setAttribute('data-action', mine ? 'open' : 'claim');
      button.setAttribute('data-task', t.id);
      button.disabled = !!t.claim && !mine;
      const tr = row([
        t.kind,
        t.directoryName,
        t.jobId.slice(0, 8),
        t.reason ?? '',
        t.claim?.by ?? '',
        button,
      ]);
      tr.setAttribute('data-task', t.id);
      return tr;
    }),
    'Nothing to do: no open tasks.',
    6,
  );
}

async function showDetail(task: Task, token: number): Promise<void> {
  localStorage.setItem(CLAIM, JSON.stringify({ taskId: task.id, token }));
  const detail = $('tasks.detail') as HTMLElement;
  detail.hidden = false;
  detail.setAttribute('data-task', task.id);
  set('task.directory', task.directoryName);
  const link = $('task.submissionUrl') as HTMLAnchorElement;
  link.textContent = task.submissionUrl;
  if (isWeb(task.submissionUrl)) link.href = task.submissionUrl;
  set('task.reason', task.reason ?? '');
  set('task.expiresAt', task.claim?.expiresAt ?? '');
  const customer = await api<Record<string, unknown>>('GET', `/v1/customers/${task.customerId}`);
  fill(
    'task.profile',
    PROFILE_FIELDS.filter((f) => customer.body[f] !== null && customer.body[f] !== undefined).map((f) => {
      const value = String(customer.body[f]);
      const copy = el('button', 'Copy') as HTMLButtonElement;
      copy.type = 'button';
      copy.setAttribute('data-copy', value);
      copy.setAttribute('aria-label', `Copy ${f}`);
      const tr = row([f, value, copy]);
      tr.setAttribute('data-field', f);
      return tr;
    }),
    'No profile values.',
    3,
  );
  const shot = task.proofs.at(-1)?.screenshots.result;
  const proof = $('task.proof') as HTMLElement;
  if (shot && shot.state === 'stored' && isWeb(shot.url)) {
    const img = document.createElement('img');
    img.src = shot.url;
    img.alt = 'What the robot saw when it stopped';
    img.style.maxWidth = '100%';
    proof.replaceChildren(el('h3', 'Proof screenshot'), img);
  } else proof.replaceChildren(el('p', 'No proof screenshot for this task.'));
  (($('task.resolve') as HTMLFormElement).elements.namedItem('listingUrl') as HTMLInputElement).focus();
}

function closeDetail(): void {
  localStorage.removeItem(CLAIM);
  ($('tasks.detail') as HTMLElement).hidden = true;
}

async function claim(taskId: string): Promise<void> {
  const by = localStorage.getItem(OPERATOR);
  const res = await api<Task>('POST', `/v1/tasks/${taskId}/claim`, by ? { by } : {});
  if (res.status !== 200) {
    set('tasks.message', errorText(res.body));
    await loadList();
    return;
  }
  set('tasks.message', `Claimed: ${res.body.directoryName}`);
  await showDetail(res.body, res.body.claim?.token ?? 0);
  await loadList();
}

async function resolve(outcome: string, form: HTMLFormElement): Promise<void> {
  const mine = storedClaim();
  if (!mine) return;
  const field = (name: string) => (form.elements.namedItem(name) as HTMLInputElement).value.trim();
  const body: Record<string, unknown> = { outcome, claimToken: mine.token };
  if (field('listingUrl')) body.listingUrl = field('listingUrl');
  if (field('note')) body.note = field('note');
  const by = localStorage.getItem(OPERATOR);
  if (by) body.by = by;
  const res = await api<Task>('POST', `/v1/tasks/${mine.taskId}/resolve`, body);
  if (res.status === 200) {
    set('tasks.message', `Resolved ${outcome}: ${res.body.directoryName} is now ${res.body.ledgerStatus}`);
    form.reset();
    closeDetail();
  } else {
    set('tasks.message', errorText(res.body));
    if (res.status === 404 || res.status === 409) closeDetail();
  }
  await loadList();
}

async function release(): Promise<void> {
  const mine = storedClaim();
  if (!mine) return;
  const res = await api<Task>('POST', `/v1/tasks/${mine.taskId}/release`, { claimToken: mine.token });
  set('tasks.message', res.status === 200 ? 'Released.' : errorText(res.body));
  closeDetail();
  await loadList();
}

async function start(): Promise<void> {
  ($('tasks.login') as HTMLElement).hidden = true;
  ($('tasks.main') as HTMLElement).hidden = false;
  await loadList();
  const mine = storedClaim();
  if (!mine) return;
  const res = await api<Task>('GET', `/v1/tasks/${mine.taskId}`);
  if (res.status === 200 && res.body.claim?.token === mine.token) await showDetail(res.body, mine.token);
  else closeDetail();
}

document.addEventListener('DOMContentLoaded', () => {
  const login = $('tasks.login') as HTMLFormElement;
  login.addEventListener('submit', (e) => {
    e.preventDefault();
    const data = new FormData(login);
    sessionStorage.setItem(KEY, String(data.get('key') ?? ''));
    const operator = String(data.get('operator') ?? '').trim();
    if (operator) localStorage.setItem(OPERATOR, operator);
    void start();
  });
  document.addEventListener('click', (e) => {
    const target = (e.target as HTMLElement).closest<HTMLElement>('button');
    if (!target) return;
    const action = target.getAttribute('data-action');
    const taskId = target.getAttribute('data-task');
    if (action === 'claim' && taskId) void claim(taskId);
    if (action === 'open') void start();
    if (action === 'release') void release();
    const value = target.getAttribute('data-copy');
    if (value !== null) {
      navigator.clipboard.writeText(value).then(
        () => {
          target.textContent = 'Copied';
        },
        () => {
          target.textContent = 'Select and copy';
        },
      );
    }
  });
  const form = $('task.resolve') as HTMLFormElement;
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const outcome = (e.submitter as HTMLButtonElement | null)?.value;
    if (outcome) void resolve(outcome, form);
  });
  if (sessionStorage.getItem(KEY)) void start();
  else showLogin();
});
