"""Reading screenshots: OCR backends (the `ScreenshotReader` role) and support-field parsing of the text.

`retrieval.ocr.factory.make_reader` builds a reader by name; `retrieval.ocr.fields.parse_fields` pulls
error codes, versions, product names and quoted messages out of any text.
"""
