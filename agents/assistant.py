"""A personal assistant that remembers a person's preferences, facts and commitments."""

from __future__ import annotations

from framework import Agent, tool


class Assistant(Agent):
    name = "assistant"
    instructions = (
        "You are a personal assistant. Use what you remember about the user: answer in line with "
        "their preferences, respect their constraints, and keep track of their commitments."
    )
    skills = "../skills"
    policies = "../policies"

    @tool
    def add_commitment(self, what: str, due: str) -> str:
        """Note a commitment the user made, so it can be followed up.

        Args:
            what: what the user committed to do
            due: when it is due, in the user's words
        """
        return f"noted: {what} (due {due})"
