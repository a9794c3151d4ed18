"""`?format=csv` on the statistics: the JSON rows as CSV, same columns, one row per JSON row, the total last."""

import csv
import io

from rest_framework.renderers import BaseRenderer


class StatsCSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        rows = [*(data.get("rows") or data.get("departments") or []), data["total"]]
        columns = list(data["total"])
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if value is None else value for key, value in row.items()})
        return out.getvalue().encode(self.charset)
