"""Attachments in the console, in Chromium: a customer attaches a photo to a
new request and sees its thumbnail; the merchant sees it in the inbox and the order;
files go into the thread; a refused file's reason shows beside the control."""

from tests.test_attachments import PDF, jpeg_with_metadata
from tests.test_browser import (  # noqa: F401 (fixtures)
    MERCHANT,
    browser,
    pages,
    pytestmark,
    server,
    sign_in,
    sign_up,
)


def loaded(page, selector: str) -> bool:
    """The image is there and the browser decoded it."""
    return page.eval_on_selector(selector, "img => img.complete && img.naturalWidth > 0")


def test_a_photo_attached_by_the_customer_reaches_the_merchant(server, pages, tmp_path):  # noqa: F811
    photo = tmp_path / "holiday.jpg"
    photo.write_bytes(jpeg_with_metadata())
    brief = tmp_path / "brief.pdf"
    brief.write_bytes(PDF)
    notes = tmp_path / "notes.png"
    notes.write_text("not an image at all")

    customer = pages()
    sign_up(customer, server.url, "painter")
    customer.click("text=New request")
    customer.wait_for_selector("#new-order")
    customer.fill("#f-title", "A portrait from a photo")
    customer.fill("#f-content", "Oil on canvas, 40x50")
    customer.fill("#f-phone", "+1 555 0101")
    customer.select_option("select[name='order_extra.size']", "M")

    # A refused file: the server's reason beside the control, nothing added.
    customer.set_input_files("#attach-images", str(notes))
    error = customer.wait_for_selector("[data-testid=attach-images] .error")
    assert error.text_content() == (
        "notes.png: file must be a JPEG, PNG, GIF or WebP image or a PDF document"
    )
    assert customer.input_value("#f-images") == ""

    # The photo: uploaded, its thumbnail shown, its path in the images list.
    customer.set_input_files("#attach-images", str(photo))
    customer.wait_for_selector("[data-testid=attach-images] [data-testid=attached-thumb]")
    assert loaded(customer, "[data-testid=attach-images] [data-testid=attached-thumb]")
    assert customer.query_selector("[data-testid=attach-images] .error") is None
    path = customer.input_value("#f-images")
    assert path.startswith("/uploads/") and path.endswith(".jpg")
    customer.click("#new-order button[type=submit]")
    customer.wait_for_selector("[data-testid=title]")
    thumb = path.replace("/uploads/", "/uploads/thumb/")
    shown = f"[data-testid=images] img[src='{thumb}']"
    customer.wait_for_selector(shown)
    assert loaded(customer, shown)

    # Editing the request: another picture attached the same way.
    customer.click("#edit")
    customer.set_input_files("#attach-edit-images", str(photo))
    customer.wait_for_selector("[data-testid=attach-edit-images] [data-testid=attached-thumb]")
    assert customer.input_value("#f-edit-images").splitlines()[0] == path
    customer.click("#edit-form button[type=submit]")
    customer.wait_for_selector("text=Order updated.")
    customer.wait_for_function("document.querySelectorAll('[data-testid=images] img').length === 2")

    # A PDF into the thread: a download link, not an image.
    customer.set_input_files("#attach-message", str(brief))
    link = customer.wait_for_selector("[data-testid=thread] [data-testid=download]")
    assert link.get_attribute("href").endswith(".pdf")
    assert link.get_attribute("download") == ""
    # And the photo as an image message: its thumbnail in the thread.
    customer.set_input_files("#attach-message", str(photo))
    customer.wait_for_selector("[data-testid=thread] a.image img")

    # The merchant: the thumbnail in the inbox and on the order page.
    merchant = pages()
    sign_in(merchant, server.url, *MERCHANT)
    merchant.wait_for_selector("[data-testid=orders]")
    row = merchant.wait_for_selector("[data-testid=orders] li:has-text('A portrait from a photo')")
    inbox_thumb = row.query_selector("[data-testid=thumb]")
    assert inbox_thumb.get_attribute("src") == thumb
    merchant.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=inbox_thumb)
    merchant.click("text=A portrait from a photo")
    merchant.wait_for_selector(shown)
    assert loaded(merchant, shown)

    # The merchant's sketch, uploaded and saved as a sketch image.
    merchant.set_input_files("#attach-sketch-images", str(photo))
    merchant.wait_for_selector("[data-testid=attach-sketch-images] [data-testid=attached-thumb]")
    merchant.click("#images-form button[type=submit]")
    merchant.wait_for_selector("[data-testid=sketch-images] img")
    assert loaded(merchant, "[data-testid=sketch-images] img")
