/* The board's behaviour. The page works without it (every card links to the lead's page, where
 * its stage and value can be changed; filters are a plain GET form); with it:
 *
 * - Moves are optimistic: drag-and-drop (SortableJS) or the "Move to…" menu moves the card at once,
 *   the banner says "Saving…" then "Saved" with an Undo button for ten seconds, and a refusal
 *   (illegal move, a newer change, no connection) puts the card back with the server's reason.
 *   The server answers with the card and fresh column headers (counts, totals) and forecast.
 * - One "Move to…" menu, one value dialog and one bulk bar exist per page, whatever the number
 *   of cards: this script adds a toggle and a selection box to each card and fills the shared
 *   menu for the card it opens on (the board's HTML stays small).
 * - Several selected cards move (or are marked lost, with a reason) in one request; the banner
 *   lists any lead that was not moved and why.
 * - "/" focuses the search box; the mouse wheel over a column's header or the gaps between
 *   columns scrolls the board sideways.
 *
 * Card actions that ask first (a CardAction with a CardConfirm, e.g. "Cancel call") work the same
 * way: a dialog asks for the reason, the card shows the change at once, the action's URL gets a
 * JSON POST, and a refusal puts the card back as it was with the server's reason. Without this
 * script the pill is a link to the app's own confirmation page.
 */
(function () {
  "use strict";

  const UNDO_SECONDS = 10;
  let hideTimer = null;
  let undoAction = null;

  /* The banner; with `undo`, an Undo button for UNDO_SECONDS (added only then, so the banner's
   * text is only ever what it says). */
  function banner(text, tone, undo) {
    const el = document.getElementById("move-status");
    if (!el) return;
    clearTimeout(hideTimer);
    const textEl = el.querySelector(".move-status-text") || el;
    let undoButton = el.querySelector(".move-undo");
    el.hidden = false;
    el.dataset.tone = tone;
    textEl.textContent = text;
    undoAction = undo || null;
    if (undo && !undoButton) {
      undoButton = document.createElement("button");
      undoButton.type = "button";
      undoButton.className = "move-undo";
      undoButton.textContent = "Undo";
      el.appendChild(undoButton);
    } else if (!undo && undoButton) {
      undoButton.remove();
    }
    if (tone === "good") {
      hideTimer = setTimeout(() => {
        el.hidden = true;
        undoAction = null;
        const button = el.querySelector(".move-undo");
        if (button) button.remove();
      }, undo ? UNDO_SECONDS * 1000 : 6000);
    }
  }

  function hideBanner() {
    const el = document.getElementById("move-status");
    if (!el) return;
    clearTimeout(hideTimer);
    el.hidden = true;
    undoAction = null;
  }

  function leadId(card) {
    return card.id.replace(/^card-/, "");
  }

  function cardName(card) {
    const link = card.querySelector(".card-link");
    return link ? link.textContent.trim() : "this lead";
  }

  // POST a form and read the JSON answer; null when the server could not be reached.
  async function postForJson(url, data) {
    try {
      const response = await fetch(url, {
        method: "POST",
        body: data,
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken() },
      });
      const body = await response.json().catch(() => ({}));
      return { response, body };
    } catch (error) {
      return null;
    }
  }

  function csrfToken() {
    try {
      const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
      if (headers["X-CSRFToken"]) return headers["X-CSRFToken"];
    } catch (error) { /* fall through to a form's token */ }
    const input = document.querySelector('input[name="csrfmiddlewaretoken"]');
    return input ? input.value : "";
  }

  function currentUrl() {
    return window.location.pathname + window.location.search;
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
      if (el.dataset.capped) return; // "1,000+": counted only up to the cap, stays as it is
      const n = parseInt(el.textContent, 10);
      if (!Number.isNaN(n)) el.textContent = String(Math.max(0, n + delta));
    });
  }

  function placeAtTop(list, card) {
    list.insertBefore(card, list.querySelector(".card"));
  }

  function fromHtml(html) {
    const template = document.createElement("template");
    template.innerHTML = html.trim();
    return template.content.firstElementChild;
  }

  /* Fresh column headers and forecast from the server: each replaces the element with its id. */
  function applyTotals(totals) {
    if (!totals) return;
    Object.values(totals).forEach((html) => {
      const fresh = fromHtml(html);
      if (!fresh || !fresh.id) return;
      fresh.removeAttribute("hx-swap-oob");
      const old = document.getElementById(fresh.id);
      if (old) old.replaceWith(fresh);
      if (fresh.classList.contains("column-head")) {
        // The chip in the stage bar shows the same count.
        const count = fresh.querySelector(".column-count");
        const stage = fresh.id.replace(/^head-/, "");
        document.querySelectorAll(`.chip-count[data-count-for="${stage}"]`).forEach((el) => {
          if (!count) return;
          el.textContent = count.textContent;
          if (count.dataset.capped) el.dataset.capped = "1";
          else delete el.dataset.capped;
        });
      }
    });
  }

  /* --- One shared menu, selection boxes and toggles added to each card ------------------------ */

  function menu() {
    return document.getElementById("card-menu");
  }

  function targetsFrom(stage) {
    const m = menu();
    if (!m) return [];
    return Array.from(m.querySelectorAll("[data-from]")).filter((el) => el.dataset.from.split(" ").includes(stage));
  }

  function enhanceCard(card) {
    if (!menu() || card.querySelector(".move-toggle")) return;
    const name = cardName(card);
    const pick = document.createElement("input");
    pick.type = "checkbox";
    pick.className = "card-pick";
    pick.value = leadId(card);
    pick.setAttribute("aria-label", `Select ${name}`);
    card.insertBefore(pick, card.firstChild);
    let actions = card.querySelector(".card-actions");
    if (!actions) {
      actions = document.createElement("div");
      actions.className = "card-actions";
      card.appendChild(actions);
    }
    const toggle = document.createElement("button");
    toggle.type = "button";
    toggle.className = "move-toggle";
    toggle.setAttribute("aria-expanded", "false");
    toggle.setAttribute("aria-controls", "card-menu");
    const canMove = targetsFrom(card.dataset.stage).length > 0;
    toggle.textContent = canMove ? "Move to…" : "Value…";
    const hidden = document.createElement("span");
    hidden.className = "visually-hidden";
    hidden.textContent = ` ${name}`;
    toggle.appendChild(hidden);
    actions.insertBefore(toggle, actions.firstChild);
  }

  function enhanceCards(root) {
    if (!menu()) return;
    const cards = root.matches && root.matches(".card") ? [root] : root.querySelectorAll(".card");
    cards.forEach(enhanceCard);
    syncSelection();
  }

  function openCard() {
    const m = menu();
    return m && !m.hidden ? m.closest(".card") : null;
  }

  function closeMenu(options) {
    const m = menu();
    if (!m || m.hidden) return;
    const card = m.closest(".card");
    m.hidden = true;
    document.querySelector("main").appendChild(m);
    if (card) {
      const toggle = card.querySelector(".move-toggle");
      if (toggle) {
        toggle.setAttribute("aria-expanded", "false");
        if (options && options.focus) toggle.focus();
      }
    }
  }

  function openMenu(card) {
    const m = menu();
    if (!m) return;
    closeMenu();
    const stage = card.dataset.stage;
    const form = m.querySelector("form.move-form");
    form.action = form.dataset.action.replace("{id}", leadId(card));
    form.querySelector('input[name="expected_stage"]').value = stage;
    const reason = form.querySelector('input[name="reason"]');
    if (reason) reason.value = "";
    const allowed = targetsFrom(stage);
    m.querySelectorAll("[data-from]").forEach((el) => { el.hidden = !allowed.includes(el); });
    m.querySelector(".card-menu-title").hidden = allowed.length === 0;
    card.querySelector(".card-actions").after(m);
    m.hidden = false;
    const toggle = card.querySelector(".move-toggle");
    toggle.setAttribute("aria-expanded", "true");
    const first = m.querySelector(".move-options button:not([hidden])") || m.querySelector(".card-menu-value");
    if (first) first.focus();
  }

  function onToggleClick(event) {
    const toggle = event.target.closest(".move-toggle");
    if (!toggle) return;
    const card = toggle.closest(".card");
    event.preventDefault();
    if (openCard() === card) {
      closeMenu({ focus: true });
    } else {
      openMenu(card);
    }
  }

  function askLostReason() {
    const dialog = document.getElementById("lost-dialog");
    if (!dialog || typeof dialog.showModal !== "function") {
      return Promise.resolve(window.prompt("Why was this lead lost?") || "");
    }
    const input = dialog.querySelector("#lost-reason");
    input.value = "";
    dialog.returnValue = "";
    return new Promise((resolve) => {
      dialog.addEventListener("close", () => {
        // Escape or Cancel: an empty answer, which changes nothing.
        resolve(dialog.returnValue === "ok" ? input.value.trim() : "");
      }, { once: true });
      dialog.showModal();
      input.focus();
    });
  }

  function focusToggle(card) {
    const toggle = card && card.isConnected ? card.querySelector(".move-toggle") : null;
    if (toggle) toggle.focus();
  }

  /* Move `card` to `toStage`. `origin` is where it was ({list, next}) so it can go back. The
   * card has already been moved in the page (by Sortable, or by the menu handler). With
   * `keepFocus` (a keyboard move) focus stays on the moved card. */
  async function saveMove(card, toStage, origin, reason, keepFocus) {
    const fromStage = card.dataset.stage;
    const putBack = () => {
      if (origin.list && origin.list.isConnected) {
        origin.list.insertBefore(card, origin.next && origin.next.parentNode === origin.list ? origin.next : null);
      }
      adjustCount(toStage, -1);
      adjustCount(fromStage, +1);
      card.classList.remove("is-saving");
      card.removeAttribute("aria-busy");
      if (keepFocus) focusToggle(card);
    };
    const rollback = (why) => {
      putBack();
      banner(`Not saved: ${why} The card is back in ${stageLabel(fromStage)}.`, "error");
    };
    if (toStage === "lost" && !reason) {
      reason = await askLostReason();
      if (!reason) {
        // Cancelled (Escape or Cancel): nothing was asked of the server, nothing changes.
        putBack();
        hideBanner();
        return;
      }
    }
    const data = new FormData();
    data.set("csrfmiddlewaretoken", csrfToken());
    data.set("to_stage", toStage);
    data.set("expected_stage", fromStage);
    data.set("reason", reason || "");
    data.set("next", currentUrl());
    card.classList.add("is-saving");
    card.setAttribute("aria-busy", "true");
    banner("Saving…", "busy");

    const answer = await postForJson(`/board/lead/${leadId(card)}/move/`, data);
    if (!answer) {
      rollback("the server could not be reached. Check your connection and try again.");
      return;
    }
    const { response, body } = answer;
    if (!response.ok || !body.ok) {
      const why = body.error || `the server answered ${response.status}. Reload the board and try again.`;
      rollback(why);
      return;
    }
    const fresh = fromHtml(body.card);
    const hadFocus = keepFocus || card.contains(document.activeElement);
    if (card.isConnected) card.replaceWith(fresh);
    enhanceCard(fresh);
    if (window.htmx) window.htmx.process(fresh);
    applyTotals(body.totals);
    if (hadFocus) focusToggle(fresh);
    const undo = body.undo ? { url: body.undo.url, change: body.undo.change, card: fresh, fromStage, toStage } : null;
    banner(body.message || "Saved.", "good", undo);
  }

  async function undoMove() {
    const undo = undoAction;
    if (!undo) return;
    undoAction = null;
    banner("Undoing…", "busy");
    const data = new FormData();
    data.set("csrfmiddlewaretoken", csrfToken());
    data.set("change", String(undo.change));
    data.set("next", currentUrl());
    const answer = await postForJson(undo.url, data);
    if (!answer) {
      banner("Not undone: the server could not be reached. Check your connection and try again.", "error");
      return;
    }
    const { response, body } = answer;
    if (!response.ok || !body.ok) {
      banner(body.error || `Not undone: the server answered ${response.status}. Reload the board.`, "error");
      return;
    }
    const card = document.getElementById(undo.card.id) || undo.card;
    const fresh = fromHtml(body.card);
    const target = listFor(body.stage);
    const hadFocus = card.contains(document.activeElement);
    if (target) {
      if (card.isConnected) card.remove();
      placeAtTop(target, fresh);
    } else if (card.isConnected) {
      card.remove();
    }
    enhanceCard(fresh);
    if (window.htmx) window.htmx.process(fresh);
    applyTotals(body.totals);
    if (hadFocus || document.activeElement === document.body) focusToggle(fresh);
    banner(body.message || "Undone.", "good");
  }

  function onMenuSubmit(event) {
    const form = event.target.closest("#card-menu form.move-form");
    if (!form) return;
    const card = form.closest(".card");
    const button = event.submitter;
    if (!card || !button || button.name !== "to_stage") return;
    event.preventDefault();
    const toStage = button.value;
    const reasonInput = form.querySelector('input[name="reason"]');
    const reason = toStage === "lost" && reasonInput ? reasonInput.value.trim() : "";
    const keepFocus = true;
    const origin = { list: card.parentNode, next: card.nextElementSibling };
    closeMenu();
    adjustCount(card.dataset.stage, -1);
    adjustCount(toStage, +1);
    const target = listFor(toStage);
    if (target) {
      placeAtTop(target, card);
      focusToggle(card);
      card.scrollIntoView({ block: "nearest", inline: "nearest" });
    } else {
      card.remove(); // its column is filtered out; it comes back if the move is refused
    }
    saveMove(card, toStage, origin, reason, keepFocus);
  }

  /* --- The deal value: one dialog, an HTMX form aimed at the card it opens for --------------- */

  function openValueDialog(card) {
    const dialog = document.getElementById("value-dialog");
    if (!dialog || !window.htmx) return;
    const form = dialog.querySelector("form");
    const url = form.dataset.action.replace("{id}", leadId(card));
    form.setAttribute("action", url);
    form.setAttribute("hx-post", url);
    form.setAttribute("hx-target", `#${card.id}`);
    form.querySelector('input[name="next"]').value = currentUrl();
    window.htmx.process(form);
    dialog.querySelector("#value-dialog-lead").textContent = cardName(card);
    const value = card.querySelector(".card-value");
    const amount = dialog.querySelector("#value-amount");
    amount.value = value ? value.textContent.replace(/[^0-9.]/g, "") : "";
    if (value && value.dataset.currency) dialog.querySelector("#value-currency").value = value.dataset.currency;
    dialog.querySelector("#value-error").textContent = "";
    dialog.dataset.card = card.id;
    dialog.showModal();
    amount.focus();
    amount.select();
  }

  function initValueDialog() {
    const dialog = document.getElementById("value-dialog");
    if (!dialog) return;
    const form = dialog.querySelector("form");
    dialog.querySelector(".value-cancel").addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => {
      const card = document.getElementById(dialog.dataset.card || "");
      focusToggle(card);
    });
    // htmx fires beforeSwap on the form's target (the card), so listen where it bubbles to.
    document.body.addEventListener("htmx:beforeSwap", (event) => {
      const config = event.detail.requestConfig;
      if (!config || config.elt !== form) return;
      // A refusal (4xx) is shown in the dialog: the server retargets it to #value-error.
      if (event.detail.xhr.status >= 400 && event.detail.xhr.status < 500) {
        event.detail.shouldSwap = true;
        event.detail.isError = false;
      }
    });
    document.body.addEventListener("board:saved", (event) => {
      if (dialog.open) dialog.close();
      banner((event.detail && event.detail.message) || "Saved.", "good");
    });
  }

  /* --- Several cards at once ------------------------------------------------------------------ */

  function picked() {
    return Array.from(document.querySelectorAll(".columns .card-pick:checked"));
  }

  function syncSelection() {
    const bar = document.getElementById("bulk-form");
    if (!bar) return;
    const n = picked().length;
    bar.querySelector("[data-bulk-count]").textContent = String(n);
    bar.classList.toggle("has-selection", n > 0);
    document.body.classList.toggle("is-selecting", n > 0);
  }

  async function submitBulk(toStage) {
    const bar = document.getElementById("bulk-form");
    const boxes = picked();
    if (!boxes.length) return;
    if (!toStage) {
      banner("Choose the stage to move the selected leads to.", "error");
      bar.querySelector("#bulk-stage").focus();
      return;
    }
    let reason = bar.querySelector("#bulk-reason").value.trim();
    if (toStage === "lost" && !reason) {
      reason = await askLostReason();
      if (!reason) return; // cancelled: nothing changes
    }
    const data = new FormData();
    data.set("csrfmiddlewaretoken", csrfToken());
    data.set("to_stage", toStage);
    data.set("reason", reason);
    data.set("next", currentUrl());
    boxes.forEach((box) => {
      const card = box.closest(".card");
      data.append("lead", box.value);
      data.append("expected", card ? card.dataset.stage : "");
    });
    banner(`Moving ${boxes.length} leads…`, "busy");
    const answer = await postForJson(bar.action, data);
    if (!answer) {
      banner("Nothing moved: the server could not be reached. Check your connection and try again.", "error");
      return;
    }
    const { response, body } = answer;
    if (!response.ok) {
      banner(body.error || `Nothing moved: the server answered ${response.status}. Reload the board.`, "error");
      return;
    }
    bar.querySelector("#bulk-reason").value = "";
    bar.querySelector("#bulk-stage").value = "";
    const message = body.message || "Moved.";
    const refresh = window.htmx
      ? window.htmx.ajax("GET", currentUrl(), { target: "#board-body", swap: "innerHTML" })
      : Promise.resolve();
    refresh.then(() => {
      syncSelection();
      banner(message, body.ok ? "good" : "error");
    });
  }

  function initBulk() {
    const bar = document.getElementById("bulk-form");
    if (!bar) return;
    document.addEventListener("change", (event) => {
      if (event.target.classList && event.target.classList.contains("card-pick")) syncSelection();
    });
    bar.addEventListener("submit", (event) => {
      event.preventDefault();
      submitBulk(bar.querySelector("#bulk-stage").value);
    });
    bar.querySelector(".bulk-lost").addEventListener("click", () => submitBulk("lost"));
    bar.querySelector(".bulk-clear").addEventListener("click", () => {
      picked().forEach((box) => { box.checked = false; });
      syncSelection();
    });
  }

  function initSortable(root) {
    if (!window.Sortable) return;
    root.querySelectorAll(".columns .cards").forEach((list) => {
      if (window.Sortable.get(list)) return;
      window.Sortable.create(list, {
        group: "board",
        sort: false,
        draggable: ".card",
        filter: ".card-actions, .load-more, .card-pick, .card-menu",
        preventOnFilter: false,
        forceFallback: true,
        fallbackTolerance: 5,
        delayOnTouchOnly: true,
        delay: 180,
        animation: 120,
        onStart() {
          closeMenu();
        },
        onEnd(evt) {
          if (evt.to === evt.from) return;
          const card = evt.item;
          const toStage = evt.to.dataset.stage;
          const origin = { list: evt.from, next: evt.from.children[evt.oldIndex] || null };
          adjustCount(card.dataset.stage, -1);
          adjustCount(toStage, +1);
          saveMove(card, toStage, origin, "", false);
        },
      });
    });
  }

  /* Chips jump to their column (sideways on a desktop, one column per screen on a phone) and
   * show which column is in view. */
  function initStageBar(root) {
    const bar = root.id === "stage-bar" ? root : root.querySelector && root.querySelector("#stage-bar");
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

  /* The filters fold behind one "Filters" button on a phone (board.css decides when it shows). */
  function onFiltersToggle(event) {
    const button = event.target.closest(".filters-toggle");
    if (!button) return;
    const form = button.closest("form");
    const open = !form.classList.contains("is-open");
    form.classList.toggle("is-open", open);
    button.setAttribute("aria-expanded", String(open));
  }

  /* The wheel over a column's header or the gap between columns scrolls the board sideways, so
   * every column is reachable with a mouse wheel (over the cards it scrolls that column). */
  function onWheel(event) {
    const columns = event.target.closest && event.target.closest("#columns");
    if (!columns || event.deltaX || event.shiftKey || event.ctrlKey) return;
    if (event.target.closest(".cards")) return;
    if (columns.scrollWidth <= columns.clientWidth) return;
    event.preventDefault();
    columns.scrollLeft += event.deltaY;
  }

  /* A card's exact arrival time in the owner's zone, as its title, when first pointed at. */
  const timeFormats = {};
  function onTimeHover(event) {
    const time = event.target.closest && event.target.closest(".card time[datetime]");
    if (!time || time.title) return;
    const columns = document.getElementById("columns");
    const zone = (columns && columns.dataset.zone) || undefined;
    const key = zone || "local";
    try {
      timeFormats[key] = timeFormats[key] || new Intl.DateTimeFormat("en-GB", {
        weekday: "short", day: "numeric", month: "short", year: "numeric",
        hour: "2-digit", minute: "2-digit", hour12: false, timeZone: zone, timeZoneName: "short",
      });
      time.title = timeFormats[key].format(new Date(time.dateTime));
    } catch (error) { /* an unknown zone: the relative time stays on its own */ }
  }

  function onKeydown(event) {
    if (event.key === "Escape" && openCard()) {
      closeMenu({ focus: true });
      return;
    }
    if (event.key !== "/" || event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target.closest && target.closest("input, textarea, select, [contenteditable], dialog")) return;
    const search = document.getElementById("id_q");
    if (!search) return;
    event.preventDefault();
    search.focus();
    search.select();
  }

  function onDocumentClick(event) {
    if (event.target.closest(".move-undo")) {
      undoMove();
      return;
    }
    if (event.target.closest(".card-menu-value")) {
      const card = openCard();
      closeMenu();
      if (card) openValueDialog(card);
      return;
    }
    if (event.target.closest(".filters-toggle")) {
      onFiltersToggle(event);
      return;
    }
    if (event.target.closest(".move-toggle")) {
      onToggleClick(event);
      return;
    }
    const m = menu();
    if (m && !m.hidden && !m.contains(event.target)) closeMenu();
  }

  /* --- Card actions that ask first (data-confirm-* on the action's link) ------------------- */

  let confirmDialog = null;

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
  /* The action's confirm spec: the parts every card shares (labels, detail) are on the page once
   * (`[data-confirm-spec]`, named by the link's `data-confirm`), the card's own (prompt, badge) on
   * the link. */
  function confirmData(action) {
    const key = action.dataset.confirm;
    const shared = key ? document.querySelector(`[data-confirm-spec="${key}"]`) : null;
    return Object.assign({}, shared ? shared.dataset : {}, action.dataset);
  }

  function askConfirm(action) {
    const d = confirmData(action);
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
    const d = confirmData(action);
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
    const answer = await postForJson(action.href, data);
    if (!answer) {
      rollback("the server could not be reached. Check your connection and try again.");
      return;
    }
    const { response, body } = answer;
    if (!response.ok || !body.ok) {
      const why = body.error || `the server answered ${response.status}. Reload the board and try again.`;
      rollback(why);
      return;
    }
    // The app answered for its own change; the board renders the card afresh.
    let cardHtml = "";
    try {
      const next = encodeURIComponent(window.location.pathname + window.location.search);
      const reply = await fetch(`/board/lead/${leadId(card)}/card/?next=${next}`, {
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
      if (openCard() === card) closeMenu();
      card.replaceWith(fresh);
      enhanceCard(fresh);
      if (window.htmx) window.htmx.process(fresh);
      if (hadFocus) {
        const target = fresh.querySelector(".move-toggle") || fresh.querySelector("a");
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
    enhanceCards(root);
    initSortable(root);
    initStageBar(root);
  }

  document.addEventListener("submit", onMenuSubmit);
  document.addEventListener("click", onConfirmActionClick);
  document.addEventListener("click", onDocumentClick);
  document.addEventListener("keydown", onKeydown);
  document.addEventListener("mouseover", onTimeHover);
  document.addEventListener("focusin", onTimeHover);
  document.addEventListener("wheel", onWheel, { passive: false });
  // A swap (search, filters, a bulk move) may replace the card the shared menu sits in.
  document.addEventListener("htmx:beforeSwap", (event) => {
    const m = menu();
    const target = event.detail && event.detail.target;
    if (m && !m.hidden && target && target.contains(m)) closeMenu();
  });
  document.addEventListener("DOMContentLoaded", () => {
    document.documentElement.classList.add("js");
    initValueDialog();
    initBulk();
    if (window.htmx) {
      window.htmx.onLoad(init);
    } else {
      init(document);
    }
  });
})();
