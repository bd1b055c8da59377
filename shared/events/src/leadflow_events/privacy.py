"""Payload of ``leadflow.lead.erased.v1`` and the consent record a touchpoint may carry."""

from __future__ import annotations

from enum import StrEnum

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

LEAD_ERASED_V1 = "leadflow.lead.erased.v1"


class LegalBasis(StrEnum):
    CONSENT = "consent"                        # GDPR Art. 6(1)(a); e-mail marketing in Germany: UWG §7(2)
    CONTRACT = "contract"                      # Art. 6(1)(b)
    LEGITIMATE_INTEREST = "legitimate_interest"  # Art. 6(1)(f)


class Consent(BaseModel):
    """Proof of consent: when, where, to what wording - without an IP address."""

    model_config = ConfigDict(frozen=True)

    purpose: str = Field(min_length=1, max_length=128, description="What was agreed to, e.g. `newsletter`, `sales_contact`.")
    legal_basis: LegalBasis = LegalBasis.CONSENT
    granted: bool = Field(default=True, description="False records a withdrawal.")
    wording_version: str | None = Field(default=None, max_length=64, description="Version of the consent text shown.")
    source: str | None = Field(default=None, max_length=512, description="Where it was given: form id or page URL.")
    given_at: AwareDatetime | None = Field(default=None, description="When it was given (the touchpoint time if omitted).")
    double_opt_in_confirmed_at: AwareDatetime | None = None
    proof: str | None = Field(default=None, max_length=256,
                              description="An IP-free reference to the evidence, e.g. the opt-in token id or a form hash.")


class LeadErased(BaseModel):
    """Everything personal about a lead was deleted; subscribers delete their copies too."""

    model_config = ConfigDict(frozen=True)

    lead_id: str
    key_hash: str = Field(description="SHA-256 of the lead key; lets systems recognise the person without keeping the e-mail.")
    reason: str = Field(description="`request` (Art. 17) or `retention` (automatic deletion of inactive leads).")
    erased_at: AwareDatetime
