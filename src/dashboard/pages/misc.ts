/** Log-in page and error pages. */
import { html } from "../html.js";
import { href, type PageContext, renderPage } from "../layout.js";

export function renderLoginPage(
  ctx: PageContext,
  options: { next: string; error?: string | undefined; loggedIn: boolean },
): string {
  const body = !ctx.tokenRequired
    ? html`<div class="panel login"><h2>No log-in needed</h2><p>This dashboard has no <code>[dashboard] token</code>: actions need no log-in.</p><p><a href="${href(ctx, "/")}">Back to the queues</a></p></div>`
    : html`<div class="panel login">
<h2>Log in</h2>
<p class="muted">Restarting and cancelling tasks needs the dashboard token (<code>[dashboard] token</code>).</p>
${options.error ? html`<p class="notice error">${options.error}</p>` : ""}
${options.loggedIn ? html`<p class="notice ok">You are logged in.</p>` : ""}
<form method="post" action="${href(ctx, "/login")}">
<input type="hidden" name="_csrf" value="${ctx.csrfToken}">
<input type="hidden" name="next" value="${options.next}">
<label for="token">Token</label>
<input type="password" id="token" name="token" autocomplete="current-password" required autofocus>
<button type="submit" class="primary">Log in</button>
</form></div>`;
  return renderPage(ctx, { title: "Log in", nav: "login", body });
}

export function renderErrorPage(ctx: PageContext, status: number, title: string, message: string): string {
  const body = html`<div class="panel"><h1>${title}</h1><p>${message}</p>${
    status === 403 && ctx.tokenRequired && !ctx.authenticated
      ? html`<p><a class="button primary" href="${href(ctx, `/login?next=${encodeURIComponent(ctx.here)}`)}">Log in</a></p>`
      : ""
  }<p><a href="${href(ctx, "/")}">Back to the queues</a></p></div>`;
  return renderPage(ctx, { title, nav: "none", body });
}
