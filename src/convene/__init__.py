"""Convene: an events platform whose events live in Microsoft Outlook calendars."""
