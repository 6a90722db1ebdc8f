/**
 * /dashboard/tasks (issue 14): the people's queue on the local gateway. A shell: client/tasks.ts (served as
 * /dashboard/tasks.js) asks for an admin key once (kept in sessionStorage), lists open and claimed tasks from
 * GET /v1/tasks, and for a claimed task shows everything doing it by hand needs (the directory's submission
 * page, each profile value with a copy button, the proof screenshot) and the resolve buttons. The claim is kept
 * in localStorage, so a reload loses nothing. Everything goes through the API with that key, never around it.
 */
export const TASKS_PAGE_PATH = '/dashboard/tasks';

export function tasksPageHtml(): string {
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>formfleet · tasks</title>
  <link rel="stylesheet" href="/dashboard/app.css">
  <script src="/dashboard/tasks.js" defer></script>
</head>
<body>
  <header><h1>Tasks <small>for people</small></h1><a href="/dashboard">dashboard</a>
    <span class="status" data-figure="tasks.message" role="status" aria-live="polite"></span></header>
  <form data-figure="tasks.login" hidden>
    <label>Admin API key <input name="key" type="password" autocomplete="off" required></label>
    <label>Your name <input name="operator" autocomplete="name"></label>
    <button type="submit">Open the queue</button>
  </form>
  <main data-figure="tasks.main" hidden>
    <section>
      <h2>Open tasks</h2>
      <table><thead><tr><th>kind</th><th>directory</th><th>job</th><th>why</th><th>claimed by</th><th></th></tr></thead>
        <tbody data-figure="tasks.list"></tbody></table>
    </section>
    <section data-figure="tasks.detail" hidden>
      <h2>Working on <span data-figure="task.directory"></span></h2>
      <p>Submit by hand at <a data-figure="task.submissionUrl" target="_blank" rel="noopener noreferrer"></a></p>
      <p>Why the robot stopped: <span data-figure="task.reason"></span></p>
      <p>Claimed until <span data-figure="task.expiresAt"></span></p>
      <table><tbody data-figure="task.profile"></tbody></table>
      <div data-figure="task.proof"></div>
      <form data-figure="task.resolve">
        <label>Listing URL <input name="listingUrl" type="url" placeholder="https://"></label>
        <label>Note <input name="note"></label>
        <button type="submit" name="outcome" value="submitted">Submitted</button>
        <button type="submit" name="outcome" value="failed">Failed</button>
        <button type="submit" name="outcome" value="skipped">Skipped</button>
        <button type="button" data-action="release">Release</button>
      </form>
    </section>
  </main>
</body>
</html>
`;
}
