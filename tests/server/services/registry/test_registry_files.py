"""Registry files: YAML and JSON parsed with lines, repeated keys refused, messages precise."""

from __future__ import annotations

import json

from fcsbe.server.services.registry.files import describe_entry, format_issue, parse_text
from fcsbe.server.services.registry.registry import RegistryRejected, parse_document
from fcsbe.server.services.registry.rules import RegistryIssue
from tests.support.registry_samples import sample_document

YAML = """\
format: fcsbe-registry/1
sites:
  - site_id: site-oslo
    configuration_type: 4
    location: {country: NO}
    grid_connection:
      voltage_level: LV
      nominal_voltage_v: 230
      phases: 1
      import_limit_w: 7400
      export_limit_w: 0
"""


def test_yaml_maps_pointers_to_lines_and_keeps_country_no_a_string() -> None:
    source = parse_text(YAML, "stations.yaml")
    assert source.issues == []
    assert source.data["sites"][0]["location"]["country"] == "NO"
    assert source.line_of("/sites/0/grid_connection/import_limit_w") == 10
    assert source.line_of("/sites/0/grid_connection/missing_field") == 6
    assert parse_document(source.data).sites[0].location.country == "NO"


def test_a_key_given_twice_is_refused_in_yaml_and_json() -> None:
    yaml_source = parse_text(YAML + "    name: a\n    name: b\n", "s.yaml")
    assert [(i.pointer, i.code) for i in yaml_source.issues] == [("/sites/0/name", "duplicate_key")]
    assert yaml_source.line_of("/sites/0/name") == 13
    json_source = parse_text(
        '{"format": "fcsbe-registry/1",\n "sites": [{"a": 1, "a": 2}]}', "s.json"
    )
    assert [(i.pointer, i.code) for i in json_source.issues] == [("/sites/0/a", "duplicate_key")]
    assert json_source.line_of("/sites/0/a") == 2


def test_syntax_errors_name_the_line() -> None:
    source = parse_text("sites:\n  - site_id: [unclosed\n", "bad.yaml")
    assert [i.code for i in source.issues] == ["syntax"]
    assert format_issue(source, source.issues[0]).startswith("bad.yaml:3: document")
    json_source = parse_text('{\n  "sites": [\n}', "bad.json")
    assert format_issue(json_source, json_source.issues[0]).startswith("bad.json:3: ")


def test_messages_name_file_line_entry_and_field() -> None:
    document = sample_document()
    document["charging_stations"][2]["evses"][1]["max_charge_power_w"] = -5
    text = json.dumps(document, indent=2)
    source = parse_text(text, "fleet.json")
    try:
        parse_document(source.data)
    except RegistryRejected as exc:
        (issue,) = exc.issues
    message = format_issue(source, issue)
    assert message == (
        "fleet.json:229: charging station 'cs-park-1' > EVSE 'NL*ABC*E2001*2': max_charge_power_w: "
        "Input should be greater than or equal to 0 (got -5)"
    )


def test_entries_are_described_by_kind_and_id() -> None:
    document = sample_document()
    assert describe_entry(document, "/sites/1/grid_connection/phases") == (
        "site 'site-park'",
        "grid_connection.phases",
    )
    assert describe_entry(document, "/charging_stations/0/evses/1/connectors/0/max_power_w") == (
        "charging station 'cs-depot-1' > EVSE 'NL*ABC*E1001*2'",
        "connectors[0].max_power_w",
    )
    assert describe_entry(document, "/ev_models/0") == ("EV model 'onboard-bidi'", "(entry)")
    assert describe_entry(document, "/format") == ("document", "format")
    assert describe_entry({"sites": [{}]}, "/sites/0/site_id") == ("sites[0]", "site_id")
    issue = RegistryIssue("/sites/9/x", "why", "code")
    assert format_issue(parse_text("{}", "e.json"), issue) == "e.json:1: sites[9]: x: why"
