import csv

from core.spreadsheets import SafeCSV, SafeXLSX


class SniffingCSV(SafeCSV):
    """CSV as Brazilian spreadsheets save it: ';' or ',' (or tab), detected from the file."""

    def create_dataset(self, in_stream, **kwargs):
        if isinstance(in_stream, bytes):
            try:
                in_stream = in_stream.decode(self.encoding or "utf-8-sig")
            except UnicodeDecodeError:
                in_stream = in_stream.decode("latin-1")
        in_stream = in_stream.lstrip("\ufeff")
        try:
            kwargs.setdefault("delimiter", csv.Sniffer().sniff(in_stream[: 64 * 1024], delimiters=",;\t|").delimiter)
        except csv.Error:
            pass
        return super().create_dataset(in_stream, **kwargs)

    def export_data(self, dataset, **kwargs):
        # ';' and a BOM: what Excel in Brazil opens in columns, with the accents right.
        kwargs.setdefault("delimiter", ";")
        return "\ufeff" + super().export_data(dataset, **kwargs)


WALLET_FORMATS = [SniffingCSV, SafeXLSX]
EXPORT_FORMATS = [SafeCSV, SafeXLSX]
