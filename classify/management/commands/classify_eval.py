"""`manage.py classify_eval --dataset FILE --backend local|anthropic [--predictions OUT] [--challenger ID --promote]`."""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from classify.clients.anthropic import AnthropicUnavailable, is_enabled
from classify.local_model import load_model, read_dataset
from classify.models import PromptVersion
from classify.services.evaluation import (
    anthropic_predictor,
    dataset_sha256,
    evaluate,
    format_report,
    local_predictor,
    prompt_challenge,
    prompt_record_eval,
    write_predictions,
)
from classify.services.prompts import prompt_ensure_champion


class Command(BaseCommand):
    help = "Score a classifier backend on a labelled JSON Lines file; optionally promote a challenger prompt."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--dataset", required=True, help='JSON Lines, one {"id", "text", "label"} per line.')
        parser.add_argument("--backend", choices=["local", "anthropic"], default="local")
        parser.add_argument("--predictions", help='Write {"id", "label", "confidence"} per input line here.')
        parser.add_argument("--challenger", type=int, help="PromptVersion id to evaluate instead of the champion.")
        parser.add_argument("--promote", action="store_true", help="Apply the champion/challenger rule.")

    def handle(
        self,
        *args,
        dataset: str,
        backend: str,
        predictions: str | None,
        challenger: int | None,
        promote: bool,
        **options,
    ) -> None:
        path = Path(dataset)
        if not path.exists():
            raise CommandError(f"{path} does not exist: pass a JSON Lines file, e.g. classify/data/test.jsonl.")
        try:
            items = read_dataset(path)
        except ValueError as exc:
            raise CommandError(str(exc)) from exc
        if not items:
            raise CommandError(f"{path} has no examples.")
        if (challenger or promote) and backend != "anthropic":
            raise CommandError("--challenger and --promote apply to prompts: add --backend anthropic.")
        if promote and not challenger:
            raise CommandError("--promote needs --challenger ID (the PromptVersion to compare with the champion).")
        sha = dataset_sha256(path)

        if backend == "local":
            model = load_model()
            result = evaluate(items, local_predictor(model))
            title = f"local model {model.version} on {path}"
        else:
            if not is_enabled():
                raise CommandError("ANTHROPIC_API_KEY is not set: set it, or use --backend local.")
            champion = prompt_ensure_champion()
            prompt = champion
            if challenger:
                chosen = PromptVersion.objects.filter(pk=challenger).first()
                if chosen is None:
                    raise CommandError(
                        f"There is no PromptVersion with id {challenger}; see /admin/classify/promptversion/."
                    )
                prompt = chosen
            try:
                result = evaluate(items, anthropic_predictor(prompt))
                prompt_record_eval(prompt=prompt, result=result, dataset_sha=sha)
                if promote and champion.pk != prompt.pk and champion.eval_dataset_sha256 != sha:
                    self.stderr.write(f"Evaluating the champion {champion.name} on the same set first…")
                    prompt_record_eval(
                        prompt=champion, result=evaluate(items, anthropic_predictor(champion)), dataset_sha=sha
                    )
            except AnthropicUnavailable as exc:
                raise CommandError(
                    f"{exc.reason}: the eval stopped and nothing was promoted. Try again later."
                ) from exc
            title = f"Anthropic prompt {prompt.name} (id {prompt.pk}) on {path}"

        self.stdout.write(format_report(result, title=title))
        if predictions:
            write_predictions(result, predictions)
            self.stdout.write(f"\npredictions written to {predictions}")
        if promote:
            decision = prompt_challenge(
                challenger=prompt,
                champion=champion,
                result=result,
                dataset=str(path),
                dataset_sha=sha,
                actor_label="classify_eval",
            )
            self.stdout.write(f"\n{decision.reason}")
