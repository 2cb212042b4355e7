"""Every sentence the bot itself says to a customer (not quoted from the KB), in one place.

No threshold, flag, model name, mode label or internal reason appears here: those go to the staff
trace and the log. Each refusal says why in the customer's terms and what they can do next.
"""

from __future__ import annotations

from collections.abc import Sequence

from chatbot.answers.plan import Branch

# Why the bot does not answer, as the abstention policy and the generators name it (`Verdict.kind`).
REFUSALS: dict[str, str] = {
    "unclear_voice": (
        "I couldn't make out your voice note clearly enough to answer it. Could you type your question, "
        "or record the voice note again somewhere quieter?"
    ),
    "unreadable_screenshot": (
        "I couldn't read your screenshot clearly. Could you type the message or error code you see, or send "
        "a sharper screenshot?"
    ),
    "unknown_product": (
        "I can't find {what} among the products we make and support. Could you check the name on the label "
        "under the device?"
    ),
    "out_of_scope": (
        "I'm sorry, that's outside what I can help with here: I answer questions about our devices, the app, "
        "orders and your account."
    ),
    "not_found": "I couldn't find an answer to that in our help articles.",
}
OFFER_PERSON = "Would you like me to pass this conversation to a person on our support team?"
OFFER_BUTTONS: tuple[str, str] = ("Yes, connect me with a person", "No, thanks")
NO_GENERATOR = "I can't write answers right now, but the help articles below may answer your question."
CONTINUE = "No problem. What else can I help you with?"
PUBLIC_QUOTED = "Answers are quoted from our help articles."


def refusal(kind: str, *, products: Sequence[str] = ()) -> str:
    """The customer's message for one refusal kind, ending with the offer of a person."""
    text = REFUSALS.get(kind, REFUSALS["not_found"])
    if "{what}" in text:
        text = text.format(what=" or ".join(f"the {p}" for p in products) or "that product")
    return f"{text} {OFFER_PERSON}"


def branch_question(branch: Branch) -> str:
    """One short question naming the options, in the KB's own words."""
    labels = [f"**{o.label}**" for o in branch.options]
    listed = ", ".join(labels[:-1]) + f", or {labels[-1]}"
    noun = "version" if branch.attribute == "version" else "device"
    return f"The steps depend on which {noun} you have. Which one is it: {listed}?"
