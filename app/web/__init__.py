"""The HTML side: public transparency pages and the members' web app (Jinja2, no JS needed).

``app.web.site.configure`` wires it onto the application (see there).
"""
