/* The board's optimistic moves: drag-and-drop (SortableJS) and the "Move to…" menu.
 *
 * Without this script every card still has a working "Move to…" form (a plain POST that
 * redirects back). With it, the card moves at once, the banner says "Saving…" then "Saved", and
 * when the server refuses (illegal move, a newer change, no connection) the card goes back to
 * where it was and the banner says why, in the server's own words.
 *
 * Card actions that ask first (a CardAction with a CardConfirm, e.g. "Cancel call") work the same
 * way: a dialog asks for the reason, the card shows the change at once (its badge reads e.g.
 * "Cancelling…", the pill is disabled), the action's URL gets a JSON POST, and a refusal puts
 * the card back as it was with the server's reason. Without this script the pill is a link to
 * the app's own confirmation page.
 */
(function () {
  "use strict";

  let hideTimer = null;

  function banner(text, tone) {
    const el = document.getElementById("move-status");
    if (!el) return;
    clearTimeout(hideTimer);
    el.hidden = false;
    el.dataset.tone = tone;
    el.textContent = text;
    if (tone === "good") hideTimer = setTimeout(() => { el.hidden = true; }, 6000);
  }

  function listFor(stage) {
    return document.querySelector(`.columns .cards[data-stage="${stage}"]`);
  }

  function stageLabel(stage) {
    const list = listFor(stage);
    if (list && list.dataset.label) return list.dataset.label;
    const option = document.querySelector(`#id_stage option[value="${stage}"]`);
    return option ? option.textContent : stage;
  }

  function adjustCount(stage, delta) {
    document.querySelectorAll(`[data-count-for="${stage}"]`).forEach((el) => {
      const n = parseInt(el.textContent, 10);
      if (!Number.isNaN(n)) el.textContent = String(Math.max(0, n + delta));
    });
  }

  function placeAtTop(list, card) {
    list.insertBefore(card, list.querySelector(".card"));
  }

  function askLostReason() {
    const dialog = document.getElementById("lost-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.prompt("Why was this lead lost?") || "");
    }
    const input = dialog.querySelector("#lost-reason");
    input.value = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        resolve(dialog.returnValue === "ok" ? input.value.trim() : "");
      }, { once: true });
      dialog.showModal();
      input.focus();
    });
  }

  /* Move `card` to `toStage`. `origin` is where it was ({list, next}) so it can go back. The
   * card has already been moved in the page (by Sortable, or by the menu handler). */
  async function saveMove(card, toStage, origin, reason) {
    const fromStage = card.dataset.stage;
    const form = card.querySelector("form.move-form");
    const rollback = (why) => {
      if (origin.list && origin.list.isConnected) {
        origin.list.insertBefore(card, origin.next && origin.next.parentNode === origin.list ? origin.next : null);
      }
      adjustCount(toStage, -1);
      adjustCount(fromStage, +1);
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
      banner(`Not saved: ${why} The card is back in ${stageLabel(fromStage)}.`, "error");
    };
    if (!form) {
      rollback("this card cannot be moved from here.");
      return;
    }
    if (toStage === "lost" && !reason) {
      reason = await askLostReason();
      if (!reason) {
        rollback("a lead needs a reason to be marked lost.");
        return;
      }
    }
    const data = new FormData(form);
    data.set("to_stage", toStage);
    data.set("expected_stage", fromStage);
    data.set("reason", reason || "");
    data.set("next", window.location.pathname + window.location.search);
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    banner("Saving…", "busy");

    let response;
    let body = {};
    try {
      response = await fetch(form.action, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json" },
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      rollback("the server could not be reached. Check your connection and try again.");
      return;
    }
    if (!response.ok || !body.ok) {
      const why = body.error || `the server answered ${response.status}. Reload the board and try again.`;
      rollback(why);
      return;
    }
    const template = document.createElement("template");
    template.innerHTML = body.card.trim();
    const fresh = template.content.firstElementChild;
    const hadFocus = card.contains(document.activeElement);
    if (card.isConnected) {
      card.replaceWith(fresh);
    }
    if (window.htmx) window.htmx.process(fresh);
    if (hadFocus && fresh.isConnected) {
      const summary = fresh.querySelector("summary") || fresh.querySelector("a");
      if (summary) summary.focus();
    }
    banner(body.message || "Saved.", "good");
  }

  function onMenuSubmit(event) {
    const form = event.target.closest("form.move-form");
    if (!form || form.classList.contains("move-form-page")) return;
    const card = form.closest(".card");
    const button = event.submitter;
    if (!card || !button || button.name !== "to_stage") return;
    event.preventDefault();
    const toStage = button.value;
    const reasonInput = form.querySelector('input[name="reason"]');
    const reason = toStage === "lost" && reasonInput ? reasonInput.value.trim() : "";
    const origin = { list: card.parentNode, next: card.nextElementSibling };
    const details = form.closest("details");
    if (details) details.open = false;
    adjustCount(card.dataset.stage, -1);
    adjustCount(toStage, +1);
    const target = listFor(toStage);
    if (target) {
      placeAtTop(target, card);
    } else {
      card.remove(); // its column is filtered out; it comes back if the move is refused
    }
    saveMove(card, toStage, origin, reason);
  }

  function initSortable(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".columns .cards").forEach((list) => {
      if (window.Sortable.get(list)) return;
      window.Sortable.create(list, {
        group: "board",
        sort: false,
        draggable: ".card",
        filter: ".card-actions, .load-more",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 5,
        delayOnTouchOnly: true,
        delay: 180,
        animation: 120,
        onEnd(evt) {
          if (evt.to === evt.from) return;
          const card = evt.item;
          const toStage = evt.to.dataset.stage;
          const origin = { list: evt.from, next: evt.from.children[evt.oldIndex] || null };
          adjustCount(card.dataset.stage, -1);
          adjustCount(toStage, +1);
          saveMove(card, toStage, origin, "");
        },
      });
    });
  }

  /* Chips jump to their column (sideways on a desktop, one column per screen on a phone) and
   * show which column is in view. */
  function initStageBar(root) {
    const bar = root.id === "stage-bar" ? root : root.querySelector("#stage-bar");
    const columns = document.getElementById("columns");
    if (!bar || !columns) return;
    bar.addEventListener("click", (event) => {
      const chip = event.target.closest("a.chip");
      if (!chip) return;
      const column = document.getElementById(`col-${chip.dataset.stage}`);
      if (!column) return;
      event.preventDefault();
      const smooth = !window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      columns.scrollTo({ left: column.offsetLeft - columns.offsetLeft, behavior: smooth ? "smooth" : "auto" });
      const barBottom = bar.getBoundingClientRect().bottom;
      const top = columns.getBoundingClientRect().top;
      if (top < barBottom) window.scrollBy({ top: top - barBottom - 8, behavior: smooth ? "smooth" : "auto" });
      chip.focus();
    });
    if (!("IntersectionObserver" in window)) return;
    const observer = new IntersectionObserver((entries) => {
      entries.forEach((entry) => {
        const stage = entry.target.id.replace(/^col-/, "");
        const chip = bar.querySelector(`a.chip[data-stage="${stage}"]`);
        if (chip) chip.classList.toggle("is-current", entry.isIntersecting && entry.intersectionRatio > 0.6);
      });
    }, { root: columns, threshold: [0, 0.6, 1] });
    columns.querySelectorAll(".column").forEach((column) => observer.observe(column));
  }

  /* --- Card actions that ask first (data-confirm-* on the action's link) ------------------- */

  let confirmDialog = null;

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (error) { /* fall through to a form's token */ }
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function buildConfirmDialog() {
    const dialog = document.createElement("dialog");
    dialog.id = "card-confirm-dialog";
    dialog.className = "lost-dialog confirm-dialog";
    dialog.setAttribute("aria-labelledby", "card-confirm-title");
    dialog.setAttribute("aria-describedby", "card-confirm-detail");
    dialog.innerHTML = `
      <form method="dialog" novalidate>
        <p class="confirm-subject" id="card-confirm-subject"></p>
        <h2 id="card-confirm-title"></h2>
        <p class="muted" id="card-confirm-detail"></p>
        <label for="card-confirm-reason"></label>
        <input id="card-confirm-reason" name="reason" maxlength="255" autocomplete="off" required
               aria-describedby="card-confirm-error">
        <p class="confirm-error" id="card-confirm-error" hidden></p>
        <div class="dialog-actions">
          <button type="button" class="confirm-keep"></button>
          <button type="submit" class="danger confirm-ok"></button>
        </div>
      </form>`;
    document.body.appendChild(dialog);
    return dialog;
  }

  /* Resolves with the trimmed reason, or null when the owner keeps things as they are (the
   * "Keep it" button, Escape). Focus goes to the reason field, then back to the pill. */
  function askConfirm(action) {
    const d = action.dataset;
    const card = action.closest(".card");
    const cardName = card && card.querySelector(".card-link") ? card.querySelector(".card-link").textContent.trim() : "";
    if (typeof HTMLDialogElement !== "function") {
      const answer = window.prompt(`${d.confirmPrompt}\n${d.confirmReasonLabel || "Reason"}:`);
      return Promise.resolve(answer && answer.trim() ? answer.trim() : null);
    }
    const dialog = confirmDialog || (confirmDialog = buildConfirmDialog());
    const form = dialog.querySelector("form");
    const input = dialog.querySelector("#card-confirm-reason");
    const error = dialog.querySelector("#card-confirm-error");
    const keep = dialog.querySelector(".confirm-keep");
    dialog.querySelector("#card-confirm-subject").textContent = cardName;
    dialog.querySelector("#card-confirm-title").textContent = d.confirmPrompt;
    const detail = dialog.querySelector("#card-confirm-detail");
    detail.textContent = d.confirmDetail || "";
    detail.hidden = !d.confirmDetail;
    dialog.querySelector('label[for="card-confirm-reason"]').textContent = d.confirmReasonLabel || "Reason";
    dialog.querySelector(".confirm-ok").textContent = d.confirmButton || "Confirm";
    keep.textContent = d.confirmKeep || "Keep it";
    input.value = "";
    input.removeAttribute("aria-invalid");
    error.hidden = true;
    error.textContent = "";
    error.removeAttribute("role");

    return new Promise((resolve) => {
      let settled = false;
      const finish = (value) => {
        if (settled) return;
        settled = true;
        form.removeEventListener("submit", onSubmit);
        keep.removeEventListener("click", onKeep);
        dialog.removeEventListener("close", onClose);
        if (dialog.open) dialog.close();
        if (action.isConnected) action.focus();
        resolve(value);
      };
      const onSubmit = (event) => {
        event.preventDefault();
        const reason = input.value.trim();
        if (!reason) {
          error.textContent = `${d.confirmReasonLabel || "A reason"} is needed: type a few words, or choose "${keep.textContent}".`;
          error.setAttribute("role", "alert");
          error.hidden = false;
          input.setAttribute("aria-invalid", "true");
          input.focus();
          return;
        }
        finish(reason);
      };
      const onKeep = () => finish(null);
      const onClose = () => finish(null); // Escape, or the dialog closed any other way
      const onInput = () => {
        if (error.hidden || !input.value.trim()) return;
        error.hidden = true;
        error.removeAttribute("role");
        input.removeAttribute("aria-invalid");
      };
      input.oninput = onInput;
      form.addEventListener("submit", onSubmit);
      keep.addEventListener("click", onKeep);
      dialog.addEventListener("close", onClose);
      dialog.showModal();
      input.focus();
    });
  }

  /* Show the change on the card at once; returns a function that puts the card back. */
  function markBusy(card, action) {
    const d = action.dataset;
    const badges = Array.from(card.querySelectorAll(".badges > li"));
    const badge = d.confirmBadge ? badges.find((li) => li.textContent.trim() === d.confirmBadge) : null;
    const before = badge ? { text: badge.textContent, className: badge.className } : null;
    let added = null;
    if (badge) {
      badge.textContent = d.confirmBusy || "Saving…";
      badge.className = "pill tone-warn is-busy";
    } else {
      let list = card.querySelector(".badges");
      if (!list) {
        list = document.createElement("ul");
        list.className = "badges";
        list.setAttribute("aria-label", "Needs attention");
        card.insertBefore(list, card.querySelector(".card-actions"));
      }
      added = document.createElement("li");
      added.className = "pill tone-warn is-busy";
      added.textContent = d.confirmBusy || "Saving…";
      list.appendChild(added);
    }
    action.setAttribute("aria-disabled", "true");
    action.classList.add("is-disabled");
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    return () => {
      if (badge && before) {
        badge.textContent = before.text;
        badge.className = before.className;
      }
      if (added) {
        const list = added.parentNode;
        added.remove();
        if (list && !list.children.length) list.remove();
      }
      action.removeAttribute("aria-disabled");
      action.classList.remove("is-disabled");
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
    };
  }

  async function saveConfirmedAction(card, action, reason) {
    const restore = markBusy(card, action);
    const rollback = (why) => {
      restore();
      banner(`Not saved: ${why} The card is as it was.`, "error");
    };
    banner("Saving…", "busy");
    const data = new FormData();
    data.set("reason", reason);
    data.set("next", window.location.pathname + window.location.search);
    let response;
    let body = {};
    try {
      response = await fetch(action.href, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      body = await response.json().catch(() => ({}));
    } catch (error) {
      rollback("the server could not be reached. Check your connection and try again.");
      return;
    }
    if (!response.ok || !body.ok) {
      const why = body.error || `the server answered ${response.status}. Reload the board and try again.`;
      rollback(why);
      return;
    }
    // The app answered for its own change; the board renders the card afresh.
    let cardHtml = "";
    try {
      const next = encodeURIComponent(window.location.pathname + window.location.search);
      const reply = await fetch(`${card.dataset.cardUrl}?next=${next}`, {
        credentials: "same-origin",
        headers: { Accept: "text/html" },
      });
      if (reply.ok) cardHtml = await reply.text();
    } catch (error) { /* keep the card as it was; the banner still says what was saved */ }
    if (cardHtml && card.isConnected) {
      const template = document.createElement("template");
      template.innerHTML = cardHtml.trim();
      const fresh = template.content.firstElementChild;
      const hadFocus = card.contains(document.activeElement);
      card.replaceWith(fresh);
      if (window.htmx) window.htmx.process(fresh);
      if (hadFocus) {
        const target = fresh.querySelector(".card-actions summary") || fresh.querySelector("a");
        if (target) target.focus();
      }
    } else {
      restore();
    }
    banner(body.message || "Saved.", "good");
  }

  async function onConfirmActionClick(event) {
    const action = event.target.closest("a[data-confirm-prompt]");
    if (!action || event.defaultPrevented) return;
    // A new tab or window gets the plain confirmation page.
    if (event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const card = action.closest(".card");
    if (!card) return;
    event.preventDefault();
    if (action.getAttribute("aria-disabled") === "true") return;
    const reason = await askConfirm(action);
    if (reason) saveConfirmedAction(card, action, reason);
  }

  function init(root) {
    initSortable(root);
    initStageBar(root);
  }

  document.addEventListener("submit", onMenuSubmit);
  document.addEventListener("click", onConfirmActionClick);
  document.addEventListener("DOMContentLoaded", () => {
    document.documentElement.classList.add("js");
    if (window.htmx) {
      window.htmx.onLoad(init);
    } else {
      init(document);
    }
  });
})();
