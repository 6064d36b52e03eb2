/* The board's optimistic moves: drag-and-drop (SortableJS) and the "Move to…" menu.
 *
 * Without this script every card still has a working "Move to…" form (a plain POST that
 * redirects back). With it, the card moves at once, the banner says "Saving…" then "Saved", and
 * when the server refuses (illegal move, a newer change, no connection) the card goes back to
 * where it was and the banner says why, in the server's own words.
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

  function init(root) {
    initSortable(root);
    initStageBar(root);
  }

  document.addEventListener("submit", onMenuSubmit);
  document.addEventListener("DOMContentLoaded", () => {
    document.documentElement.classList.add("js");
    if (window.htmx) {
      window.htmx.onLoad(init);
    } else {
      init(document);
    }
  });
})();
