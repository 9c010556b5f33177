"""Page order of labelled rows: the optional ``position`` column, checked and applied per article.

The role model reads positions and the context features read neighbours, so a row's place in its article is
part of its data: a position that is not a whole number, one used twice in an article, or a blank one in an
article that has positions is a `Problem` at its line, never a guess.
"""

from __future__ import annotations

from training.problems import Problem


def parse_position(cell: str, where: tuple[str, int], problems: list[Problem]) -> int | None:
    """A position cell as a whole number >= 0; None when blank or invalid (the invalid one reported)."""
    value = cell.strip()
    if not value:
        return None
    try:
        position = int(value)
    except ValueError:
        problems.append(Problem(*where, f"position must be a whole number, got '{value}'"))
        return None
    if position < 0:
        problems.append(Problem(*where, f"position must be 0 or more, got {position}"))
    return position


def in_article_order(rows: list[dict], problems: list[Problem]) -> list[dict]:
    """With a ``position`` column, each article's rows in position order (articles keep their first place);
    a position used twice in one article is an error. Without one, file order is page order."""
    if all(row["position"] is None for row in rows):
        return rows
    positioned = {row["article_id"]: row["source"] for row in reversed(rows) if row["position"] is not None}
    for row in rows:  # such a row would be sorted to the top of its article: page order is what context reads
        if row["position_blank"] and row["article_id"] in positioned:
            path, line = row["source"].rsplit(":", 1)
            article = row["article_id"]
            message = f"position is empty, but article '{article}' has positions (from {positioned[article]})"
            problems.append(Problem(path, int(line), message))
    seen: dict[tuple[str | None, int], str] = {}
    for row in rows:
        if row["position"] is None or row["article_id"] is None:
            continue
        key = (row["article_id"], row["position"])
        if key in seen:
            path, line = row["source"].rsplit(":", 1)
            problems.append(
                Problem(
                    path,
                    int(line),
                    f"position {row['position']} of article '{row['article_id']}' is also used at {seen[key]}",
                )
            )
        seen.setdefault(key, row["source"])
    first_place: dict[str, int] = {}
    keys = []
    for i, row in enumerate(rows):
        group = first_place.setdefault(row["article_id"], i) if row["article_id"] else i
        keys.append((group, row["position"] if row["position"] is not None else 0, i))
    return [rows[k[2]] for k in sorted(keys)]
