def summarise(rows):
    total = 0
    for row in rows:
        total += row["amount"]
    return {"rows": len(rows), "total": total}


def render(summary):
    return f"{summary['rows']} rows, total {summary['total']}"
