from django import forms

from circuits.automation.models.circuit import Circuit
from circuits.tenancy.roles import Role


class AddMemberForm(forms.Form):
    identifier = forms.EmailField(label="E-mail address", max_length=254)
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class CircuitForm(forms.ModelForm):
    class Meta:
        model = Circuit
        fields = ["name", "slug", "description", "enabled"]
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}


class AcceptInviteForm(forms.Form):
    username = forms.CharField(max_length=150)
    password = forms.CharField(widget=forms.PasswordInput, min_length=8)
