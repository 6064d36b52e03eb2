"""Multilingual cue phrases (en, es, de, fr, pt) that the local model uses as extra features.

A few hundred labelled replies cannot teach a model that "Termin", "créneau" and "agendar" all
mean a meeting; these hand-written groups can. They only name what a phrase is about: how much
each cue counts toward a label is learned in training like any other feature. Patterns run on
text that `text.normalize` has lower-cased and folded to ASCII (so "não" is "nao").

`UNSUBSCRIBE` also drives the suppression policy: a reply asking to stop mail is honoured.
"""

from __future__ import annotations

import re

from classify.text import normalize, strip_reply

_NEGATION = r"(?:not|no|nao|kein\w*|nicht|pas|ni|nunca|never)"

CUES: dict[str, str] = {
    "affirm": r"^(?:yes|yeah|yep|yup|sure|ok|okay|alright|absolutely|definitely|of course|si|claro|vale|dale|"
    r"perfecto|ja|gerne|klar|oui|volontiers|d'accord|sim|pode ser|topo|beleza|fine|why not|por que nao|"
    r"warum nicht|pourquoi pas|por que no)\b",
    "affirm_any": r"\b(?:sounds good|sounds great|works for me|let's (?:do|talk|chat|connect|explore|set|find)|"
    r"happy to|open to|i'm in|keen|love to|would love|"
    r"klingt (?:gut|spannend)|me interesa|nos interesa|ca m'interesse|avec plaisir|"
    r"tenho interesse|vamos marcar|hablemos|agendemos|organisons|"
    r"lassen sie uns)\b",
    "interest": r"(?<!not )(?<!no )(?<!pas )\b(?:interested|interesting|intrigued|curious|interes\w*|interessant\w*|"
    r"interessiert|intrigue|spannend)\b",
    "negated_interest": rf"\b{_NEGATION}\s+(?:\w+\s+){{0,2}}(?:interest\w*|interes\w*|intere\w*)",
    "price": r"\b(?:price|prices|pricing|cost|costs|rate|rates|quote|budget|charge|how much|ballpark|estimate|"
    r"investment|fee|fees|precio\w*|cuanto|cuesta|presupuesto|tarif\w*|combien|cout\w*|prix|preis\w*|"
    r"kost\w*|quanto|custa|preco\w*|investimento|orcamento|minimum engagement)\b",
    "meeting": r"\b(?:call|calls|meet|meeting|chat|talk|calendar|slot|slots|invite|book|booked|zoom|demo|"
    r"ring|phone|conversation|connect|llamada|llamame|hablar|reunion|agenda\w*|videollamada|calendario|"
    r"gesprach|termin\w*|telefonieren|anrufen|rufen|austauschen|einladung|kalender|appel\w*|rendez-vous|"
    r"creneau\w*|visio|invitation|ligacao|liga|conversa\w*|reuniao|marcar|videochamada|convite|horario\w*)\b",
    "when": r"\b(?:when|monday|tuesday|wednesday|thursday|friday|tomorrow|next week|this week|am|pm|"
    r"cuando|lunes|martes|miercoles|jueves|viernes|manana|semana que viene|wann|montag|dienstag|mittwoch|"
    r"donnerstag|freitag|morgen|nachste woche|quand|lundi|mardi|mercredi|jeudi|vendredi|demain|"
    r"semaine prochaine|quando|segunda|terca|quarta|quinta|sexta|amanha|semana que vem|\d{1,2}(?::\d\d)?\s?(?:h|uhr))\b",
    "details": r"\b(?:send|details|info|information|deck|case stud\w*|examples|portfolio|references|proposal|"
    r"one-pager|tell me more|learn more|hear more|more about|what's next|next step|how does|how would|"
    r"what would|process|envia\w*|manda\w*|informacion|casos|propuesta|incluye|schicken|senden|infos|"
    r"referenzen|angebot|envoyez|informations|references|proposition|"
    r"detalhes|proposta|cases|como funciona|saber mas|mas detalles)\b",
    "decline": r"\b(?:no thanks|no thank you|thanks but no|not interested|not a fit|not for us|not something|"
    r"no need|we'll pass|we will pass|hard pass|pass|decline|declining|all set|we're good|we are good|"
    r"happy with|already (?:have|work|use)|went with|go with another|signed with|in-house|won't|will not|"
    r"not moving forward|not proceed|not to proceed|it's a no|a no from me|no gracias|"
    r"no me interesa|no estamos|no necesitamos|paso|preferimos no|otra agencia|nein|kein interesse|"
    r"verzichten|brauchen wir nicht|passt nicht|non merci|pas interess\w*|"
    r"ne donnerons pas|pas pour nous|nao obrigad\w*|nao tenho interesse|"
    r"nao precisamos|vamos passar|decidimos nao|outra agencia|no budget|not relevant|doesn't apply|"
    r"no interest)\b",
    "unsubscribe": r"\b(?:unsubscribe\w*|remove (?:me|us|my)|remove\.?$|take (?:me|us) off|stop (?:emailing|sending|contacting|spamming|\.|$)|"
    r"please stop|opt out|opt-out|don't (?:contact|email)|do not (?:contact|email)|never signed up|"
    r"delete my data|mailing list|leave me alone|go away|spam\w*|darme de baja|dar de baja|baja|elimin\w*|"
    r"dejen de|no vuelvan|no me escrib\w*|abmelden|austragen|entfernen|verteiler|keine weiteren|"
    r"nicht mehr (?:kontaktieren|schreiben)|desabonner|desinscri\w*|"
    r"retirer de|ne me contactez|arretez|descadastr\w*|remova|remover|nao me envie|parem|"
    r"stop$)\b",
    "ooo": r"\b(?:out of (?:the )?office|ooo|vacation|holiday\w*|leave|away|travel\w*|conference|auto(?:matic)?[- ]?reply|"
    r"back (?:on|next|in)|limited access|respuesta automatica|fuera de la oficina|vacaciones|de viaje|"
    r"nicht im buro|urlaub|abwesenheit\w*|dienstreise|absent\w*|conges|reponse automatique|"
    r"en deplacement|fora do escritorio|ferias|resposta automatica|viajando|will (?:reply|respond) (?:when|as soon)|"
    r"until)\b",
    "later": r"\b(?:not now|not right now|later|next (?:quarter|year|month)|q[1-4]|check back|circle back|"
    r"reach out in|remind me|ping me|not a priority|bad timing|revisit|spring|january|after the|in a few months|"
    r"ahora no|mas adelante|no es prioridad|gerade nicht|spater|keine prioritat|"
    r"pas maintenant|plus tard|pas une priorite|agora nao|mais para frente|nao e prioridade)\b",
    "wrong_person": r"\b(?:wrong person|right person|no longer (?:with|here|in use|monitored)|left (?:the company|\w+ in)|"
    r"not in use|colleague|not monitored|persona indicada|ya no trabajo|nicht zustandig|"
    r"nicht mehr bei|bonne personne|ne travaille plus|pessoa certa|"
    r"nao trabalho mais|someone else)\b",
    "ack": r"\b(?:received|got it|noted|will get back|get back to you|circle back|let me think|think about it|"
    r"take a look when|pass (?:this|it) (?:along|on)|forward this|keep (?:it|me)|recibido|"
    r"erhalten|bien recu|je regarde|recebido|"
    r"vou dar uma olhada)\b",
    "who": r"\b(?:who is this|who are you|how did you (?:get|find)|quien eres|wer sind sie|"
    r"qui etes-vous|quem e voce)\b",
}

_PUNCTUATION = re.compile(r"[^\w'?\n-]+")
_COMPILED = {name: re.compile(pattern, re.MULTILINE) for name, pattern in CUES.items()}


def cues_in(normalized_text: str) -> list[str]:
    """Names of the cue groups found in already-normalised text, in a fixed order."""
    spaced = _PUNCTUATION.sub(" ", normalized_text)
    return [name for name, pattern in _COMPILED.items() if pattern.search(spaced)]


# The policy needs a request, not a word: "not the usual spam, I'll bite" mentions spam and is
# interested. As a model feature the bare word still counts (its weight is learned); as a reason
# to suppress an address or to say "asks to stop email", only a request does.
_MENTION_ONLY = (r"spam\w*|", "mailing list|")
_STOP_REQUEST = re.compile(
    CUES["unsubscribe"]
    .replace(_MENTION_ONLY[0], "")
    .replace(_MENTION_ONLY[1], "")
    .replace(
        "please stop|",
        r"please stop|(?:this|that|it) is spam|(?:mark|report)(?:ed|ing)? (?:this |it |you )?as spam|"
        r"(?:off|from) (?:your|the|this) (?:mailing )?list|",
    ),
    re.MULTILINE,
)
_MENTION = re.compile(r"\b(spam\w*|mailing list)\b")


def has_unsubscribe_intent(text: str) -> bool:
    """Does the reply's own text ask to stop the mail (any of the five languages)?"""
    return bool(_STOP_REQUEST.search(normalize(strip_reply(text))))


def unsubscribe_word_mentioned(text: str) -> str:
    """A word about unwanted mail ("spam", "mailing list") in a reply that does not ask to stop;
    empty when there is none or when the reply does ask."""
    own = normalize(strip_reply(text))
    if _STOP_REQUEST.search(own):
        return ""
    found = _MENTION.search(own)
    return found.group(1) if found else ""
