"""A small local knowledge table: the facts the delegation family asks about.

The interaction model is not expected to know these; it delegates the question
and the background model "looks it up" here. Each `Relation` maps entities to
values; `Relation.result(entity)` is the text the background model returns in
the bg-in slots, `"<attribute> of <entity>: <value>[ <unit>]"`, e.g.
"capital of Peru: Lima" or "height of Mount Fuji: 3776 m".

Values are real, as commonly cited (capitals; summit heights in metres, rounded
to the metre; atomic numbers; years a landmark was completed or opened;
currency names). Entities and values are shared by both splits: what differs
between train and heldout is how the user asks (see `delegation`), and the
answer always comes from the background result, not from memory.
"""

from collections.abc import Mapping
import dataclasses
import types


@dataclasses.dataclass(frozen=True)
class Relation:
  """One attribute over a set of entities.

  name: short id used in ground truth ("capital", "height", ...).
  attribute: how the background result names it ("capital", "height", ...).
  facts: entity phrase (as said in a sentence, e.g. "the Eiffel Tower") → value.
  unit: appended to the value in background results (" m"), or "".
  """
  name: str
  attribute: str
  facts: Mapping[str, str]
  unit: str = ""

  def result(self, entity: str) -> str:
    """The background model's result text for `entity`."""
    return f"{self.attribute} of {entity}: {self.facts[entity]}{self.unit}"


def _table(pairs: dict[str, str]) -> Mapping[str, str]:
  return types.MappingProxyType(pairs)


CAPITAL = Relation("capital", "capital", _table({
    "Peru": "Lima",
    "Kenya": "Nairobi",
    "Canada": "Ottawa",
    "Australia": "Canberra",
    "Norway": "Oslo",
    "Portugal": "Lisbon",
    "Egypt": "Cairo",
    "Vietnam": "Hanoi",
    "Chile": "Santiago",
    "Hungary": "Budapest",
    "Morocco": "Rabat",
    "New Zealand": "Wellington",
}))

HEIGHT = Relation("height", "height", _table({
    "Mount Everest": "8849",
    "K2": "8611",
    "Mont Blanc": "4806",
    "Kilimanjaro": "5895",
    "Denali": "6190",
    "Aconcagua": "6961",
    "Mount Fuji": "3776",
    "the Matterhorn": "4478",
    "Mount Elbrus": "5642",
    "Mount Kosciuszko": "2228",
}), unit=" m")

ATOMIC_NUMBER = Relation("atomic_number", "atomic number", _table({
    "hydrogen": "1",
    "helium": "2",
    "carbon": "6",
    "oxygen": "8",
    "neon": "10",
    "sodium": "11",
    "iron": "26",
    "copper": "29",
    "silver": "47",
    "gold": "79",
    "mercury": "80",
    "uranium": "92",
}))

YEAR_COMPLETED = Relation("year_completed", "year completed", _table({
    "the Eiffel Tower": "1889",
    "the Golden Gate Bridge": "1937",
    "the Empire State Building": "1931",
    "the Sydney Opera House": "1973",
    "the Statue of Liberty": "1886",
    "the Brooklyn Bridge": "1883",
    "Tower Bridge": "1894",
    "the Space Needle": "1962",
    "the Burj Khalifa": "2010",
    "the CN Tower": "1976",
}))

CURRENCY = Relation("currency", "currency", _table({
    "Japan": "yen",
    "India": "rupee",
    "Mexico": "peso",
    "Switzerland": "Swiss franc",
    "South Korea": "won",
    "Poland": "zloty",
    "Thailand": "baht",
    "Brazil": "real",
}))

RELATIONS: tuple[Relation, ...] = (CAPITAL, HEIGHT, ATOMIC_NUMBER, YEAR_COMPLETED, CURRENCY)
