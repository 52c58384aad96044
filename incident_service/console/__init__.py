"""The web console: server-rendered pages under `/ui/` (Jinja templates, htmx shipped in the
package, no Node build), reading and writing through the same services as the API.

The pages work without JavaScript (plain links and forms that post and redirect); htmx only
makes them quicker (partial swaps, the live list over server-sent events). Every page is
behind the same guard as the API: a signed-in session or an API key.
"""
