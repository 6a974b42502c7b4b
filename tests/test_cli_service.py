"""The service commands' options: bad values are usage errors before anything starts."""

from __future__ import annotations

import pytest

from pathway import cli


class TestPorts:
    @pytest.mark.parametrize("option", ["--port", "--ui-port", "--codec-port", "--gateway-port"])
    @pytest.mark.parametrize("value", ["99999", "0", "-1", "http"])
    def test_a_port_out_of_range_is_a_usage_error(
        self, option: str, value: str, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """`pathway dev` with a port outside 1–65535 exits 2 naming the option, before it
        binds or starts anything."""
        with pytest.raises(SystemExit) as exit_:
            cli.build_parser().parse_args(["dev", option, value])
        assert exit_.value.code == 2
        assert f"argument {option}: " in capsys.readouterr().err

    def test_a_port_in_range_is_taken(self) -> None:
        """A valid port is parsed as a number."""
        args = cli.build_parser().parse_args(["dev", "--gateway-port", "18080"])
        assert args.gateway_port == 18080
