from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "convene.accounts"
    label = "accounts"
    verbose_name = "Accounts"
