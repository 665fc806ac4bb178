"""A day with the Python `jira` library (Debian's python3-jira), driven as its users drive it.

Run by test/compat/python-jira.test.ts with Debian's /usr/bin/python3:
    python3 python-jira-scenario.py <base-url> <flavour> <login> <secret-or-pat> [basic|token] [2|latest]
Prints one JSON document of what the library read back; the test asserts on it. A step that fails
is recorded as {"error": "<status> <text>"} so the test can name it; nothing is retried.
"""

import json
import sys
from urllib.parse import urlparse

from jira import JIRA, JIRAError


def main() -> None:
    base, flavour, login, secret = sys.argv[1:5]
    mode = sys.argv[5] if len(sys.argv) > 5 else "basic"
    version = sys.argv[6] if len(sys.argv) > 6 else "2"
    cloud = flavour == "cloud"
    out: dict = {}

    def step(name, fn):
        try:
            out[name] = fn()
        except JIRAError as e:
            out[name] = {"error": f"{e.status_code} {e.text}"}

    options = {"rest_api_version": version}
    if mode == "token":
        jira = JIRA(server=base, token_auth=secret, options=options)
    else:
        jira = JIRA(server=base, basic_auth=(login, secret), options=options)

    # Every request the library makes, as "METHOD /path" (the test checks /rest/api/latest use).
    calls: list = []
    jira._session.hooks["response"].append(
        lambda r, *args, **kwargs: calls.append(f"{r.request.method} {urlparse(r.url).path}")
    )

    me = jira.myself()
    out["myself"] = me.get("accountId") if cloud else me.get("name")
    out["deploymentType"] = jira.server_info().get("deploymentType")

    description = "Seen on devices/dev-881 after the *firmware* update; see OPS-1 too."
    issue = jira.create_issue(
        fields={
            "project": {"key": "OPS"},
            "issuetype": {"name": "Incident"},
            "summary": "EB-L1500U projector offline",
            "description": description,
            "labels": ["compat"],
        }
    )
    out["key"] = issue.key
    read = jira.issue(issue.key)
    out["summary"] = read.fields.summary
    out["description"] = read.fields.description
    out["status"] = read.fields.status.name

    def edit():
        read.update(fields={"summary": "EB-L1500U projector offline (room 4)"})
        return jira.issue(issue.key).fields.summary

    step("edited", edit)

    def transition():
        t = next(t for t in jira.transitions(issue) if t["to"]["name"] == "In Progress")
        jira.transition_issue(issue, t["id"])
        return jira.issue(issue.key).fields.status.name

    step("transitioned", transition)

    def comment():
        jira.add_comment(issue, "Replaced the lamp; EB-L1500U is back.")
        return [c.body for c in jira.comments(issue)]

    step("comments", comment)

    step(
        "search",
        lambda: [i.key for i in jira.search_issues("project = OPS AND labels = compat ORDER BY key")],
    )

    def assign():
        jira.assign_issue(issue, "alice")
        a = jira.issue(issue.key).fields.assignee
        return a.accountId if cloud else a.name

    step("assignee", assign)

    def watch():
        watcher = "bob"
        if cloud:
            watcher = jira.search_users(query="bob")[0].accountId
        jira.add_watcher(issue, watcher)
        w = jira.watchers(issue)
        return {
            "count": w.watchCount,
            "watchers": [x.accountId if cloud else x.name for x in w.watchers],
        }

    step("watchers", watch)

    def link():
        other = jira.create_issue(
            fields={"project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Order a spare lamp"}
        )
        jira.create_issue_link("Relates", issue.key, other.key)  # sends "comment": null
        links = jira.issue(issue.key).fields.issuelinks
        return [
            {"type": l.type.name, "other": (getattr(l, "outwardIssue", None) or getattr(l, "inwardIssue")).key}
            for l in links
        ] + [{"expected": other.key}]

    step("links", link)
    out["calls"] = calls
    print(json.dumps(out))


if __name__ == "__main__":
    main()
