"""PDF documents the product hands out (the creditor's statement, the debtor's termo de quitação), with fpdf2.

fpdf2 is pure Python (no system libraries, nothing to install on the server), kept up, and writes a small PDF
with the core Helvetica font. That font holds Latin-1, which covers Portuguese; anything beyond it (an emoji in a
name) is replaced, never an error halfway through a document.
"""

from fpdf import FPDF

from common.parsing import CONTROL_CHARACTERS

SUBSTITUTES = {"—": "-", "–": "-", "“": '"', "”": '"', "‘": "'", "’": "'", "…": "...", "•": "-"}


def latin1(text) -> str:
    text = CONTROL_CHARACTERS.sub("", str(text if text is not None else ""))
    for char, plain in SUBSTITUTES.items():
        text = text.replace(char, plain)
    return text.encode("latin-1", "replace").decode("latin-1")


class Document(FPDF):
    """An A4 page in portrait with the title on top and page numbers at the foot."""

    def __init__(self, title: str, footer: str = ""):
        super().__init__(orientation="P", unit="mm", format="A4")
        self.doc_title = latin1(title)
        self.footer_text = latin1(footer)
        self.set_title(self.doc_title)
        self.set_auto_page_break(auto=True, margin=15)
        self.add_page()
        self.set_font("Helvetica", "B", 14)
        self.multi_cell(0, 8, self.doc_title, new_x="LMARGIN", new_y="NEXT")
        self.ln(2)
        self.set_font("Helvetica", "", 10)

    def footer(self):
        self.set_y(-12)
        self.set_font("Helvetica", "", 8)
        self.cell(0, 5, latin1(f"{self.footer_text}  {self.page_no()}/{{nb}}").strip(), align="R")

    def paragraph(self, text: str, *, bold: bool = False, size: int = 10) -> None:
        self.set_font("Helvetica", "B" if bold else "", size)
        self.multi_cell(0, 5, latin1(text), new_x="LMARGIN", new_y="NEXT")
        self.set_font("Helvetica", "", 10)

    def table(self, headers: list[str], rows: list[list[str]], widths: list[float], aligns: list[str]) -> None:
        """A plain table; the header repeats on every page it spills over to."""

        def header_row():
            self.set_font("Helvetica", "B", 8)
            for header, width, align in zip(headers, widths, aligns, strict=True):
                self.cell(width, 6, latin1(header), border=1, align=align)
            self.ln()
            self.set_font("Helvetica", "", 8)

        header_row()
        for row in rows:
            if self.will_page_break(6):
                self.add_page()
                header_row()
            for value, width, align in zip(row, widths, aligns, strict=True):
                self.cell(width, 6, latin1(value)[:60], border=1, align=align)
            self.ln()
        self.set_font("Helvetica", "", 10)

    def output_bytes(self) -> bytes:
        return bytes(self.output())
