"""Go's text/template for Alertmanager's notification templates, in Python.

Go template syntax as Go 1.19 parses and runs it (Debian's Alertmanager 0.25 is built with
Go 1.19), the functions of Alertmanager 0.25's template.DefaultFuncs, the notification data it
passes (`notification_data`), and its default templates (default.tmpl, email.tmpl, shipped
here as they are in Alertmanager). Entry points:

    tmpl = AlertmanagerTemplates(["/etc/alertmanager/templates/*.tmpl"])
    title = tmpl.execute_text('{{ template "slack.default.title" . }}',
                              notification_data(message_data, now))
"""

from inferwatch.notifier.gotemplate.data import Data, notification_data, sample_data
from inferwatch.notifier.gotemplate.execute import TemplateExecError
from inferwatch.notifier.gotemplate.lexer import GoTemplateError, TemplateSyntaxError
from inferwatch.notifier.gotemplate.template import AlertmanagerTemplates, Templates

__all__ = ["AlertmanagerTemplates", "Data", "GoTemplateError", "TemplateExecError",
           "TemplateSyntaxError", "Templates", "notification_data", "sample_data"]
