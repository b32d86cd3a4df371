"""Consensus decision-making: proposals, versions, rounds, responses and their outcome."""
