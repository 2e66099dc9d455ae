from m365_emulator.testing import EmulatorHandle


def test_token_for_gives_a_delegated_token(emulator: EmulatorHandle) -> None:
    token = emulator.token_for("ada@contoso.test")
    assert token.count(".") == 2


def test_app_token_for_the_platform_tenant(emulator: EmulatorHandle) -> None:
    assert emulator.app_token().count(".") == 2
