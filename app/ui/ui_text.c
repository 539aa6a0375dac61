/* ui_text: the Swedish and English strings of the terminal interface (see ui_text.h). */
#include "ui/ui_text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int english;

static const char *const texts[2][T__COUNT] = {
#define X(id, sv, en) sv,
    {UI_TEXTS(X)},
#undef X
#define X(id, sv, en) en,
    {UI_TEXTS(X)},
#undef X
};

int ui_text_lang(const char *lang)
{
    if (lang == NULL) {
        const char *env = getenv("LANG");
        english = env != NULL && strncmp(env, "en", 2) == 0;
        return 0;
    }
    if (strcmp(lang, "sv") == 0)
        english = 0;
    else if (strcmp(lang, "en") == 0)
        english = 1;
    else
        return -1;
    return 0;
}

int ui_text_english(void) { return english; }

const char *ui_t(ui_text_id id) { return texts[english][id]; }

typedef struct {
    const char *name, *sv, *en, *hint_sv, *hint_en;
} label;

static const label fields[] = {
    {"personnummer", "Personnummer", "Personnummer", "ÅÅÅÅMMDD-NNNN (även samordningsnummer)",
     "YYYYMMDD-NNNN (samordningsnummer too)"},
    {"given_name", "Förnamn", "Given name", "krävs om personen inte finns i ögonblicksbilden",
     "required if the person is not in the snapshot"},
    {"family_name", "Efternamn", "Family name", "krävs om personen inte finns i ögonblicksbilden",
     "required if the person is not in the snapshot"},
    {"protected_identity", "Skyddad identitet", "Protected identity", "0 (ingen) till 3",
     "0 (none) to 3"},
    {"employment_id", "Anställnings-id", "Employment id",
     "bokstäver, siffror, _ . -; tomt i en anställning ger ett nytt id",
     "letters, digits, _ . -; empty in a hire generates one"},
    {"org_unit_id", "Organisationsenhet", "Organisation unit", "id från ögonblicksbilden",
     "id from the snapshot"},
    {"start_date", "Startdatum", "Start date", "ÅÅÅÅ-MM-DD", "YYYY-MM-DD"},
    {"end_date", "Slutdatum", "End date", "ÅÅÅÅ-MM-DD, tomt = tills vidare",
     "YYYY-MM-DD, empty = open-ended"},
    {"pay_type", "Löneform", "Pay type", "monthly (månadslön) eller hourly (timlön)",
     "monthly or hourly"},
    {"monthly_salary_ore", "Månadslön (öre)", "Monthly salary (öre)",
     "heltidslön i öre: 32 000 kr = 3200000", "full-time salary in öre: 32,000 SEK = 3200000"},
    {"hourly_rate_ore", "Timlön (öre)", "Hourly rate (öre)", "i öre: 180 kr = 18000",
     "in öre: 180 SEK = 18000"},
    {"extent_pct", "Omfattning (%)", "Extent (%)", "större än 0, högst 100, t.ex. 75 eller 62.5",
     "above 0, at most 100, e.g. 75 or 62.5"},
    {"tax_table", "Skattetabell", "Tax table", "29-42 (med skattekolumn)",
     "29-42 (with tax column)"},
    {"tax_column", "Skattekolumn", "Tax column", "1-6", "1-6"},
    {"tax_fixed_pct", "Fast skatt (%)", "Fixed tax (%)", "i stället för tabell och kolumn",
     "instead of table and column"},
    {"clearing", "Clearingnummer", "Clearing number", "4 siffror (5 för Swedbank 8xxx-x)",
     "4 digits (5 for Swedbank 8xxx-x)"},
    {"account", "Kontonummer", "Account number", "med clearingnumret", "with the clearing number"},
    {"iban", "IBAN", "IBAN", "i stället för clearing och konto", "instead of clearing and account"},
    {"last_day", "Sista anställningsdag", "Last day", "ÅÅÅÅ-MM-DD", "YYYY-MM-DD"},
    {"reason", "Orsak", "Reason",
     "resignation, dismissal, end_of_fixed_term, retirement, death, other (avslut); fritext "
     "(engångsbelopp)",
     "resignation, dismissal, end_of_fixed_term, retirement, death, other (termination); "
     "text (one-off)"},
    {"from_date", "Från och med", "From date", "ÅÅÅÅ-MM-DD", "YYYY-MM-DD"},
    {"to_date", "Till och med", "To date", "ÅÅÅÅ-MM-DD", "YYYY-MM-DD"},
    {"amount_ore", "Belopp (öre)", "Amount (öre)", "negativt = avdrag, aldrig 0",
     "negative = deduction, never 0"},
    {"pay_code", "Lönekod", "Pay code", "t.ex. OB", "e.g. OB"},
    {"period", "Period", "Period", "ÅÅÅÅ-MM (tomt = dagens)", "YYYY-MM (empty = today's)"},
};

static const label types[] = {
    {"hire", "Nyanställning", "Hire", NULL, NULL},
    {"termination", "Avslut av anställning", "Termination", NULL, NULL},
    {"salary_change", "Lönändring", "Salary change", NULL, NULL},
    {"extent_change", "Ändrad omfattning", "Extent change", NULL, NULL},
    {"bank_change", "Nytt bankkonto", "Bank account change", NULL, NULL},
    {"tax_change", "Ändrad skatt", "Tax change", NULL, NULL},
    {"leave", "Tjänstledighet (obetald)", "Unpaid leave", NULL, NULL},
    {"one_off", "Engångsbelopp", "One-off payment or deduction", NULL, NULL},
};

static const label *find(const label *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0)
            return &t[i];
    return NULL;
}

const char *ui_field_label(const char *field)
{
    const label *l = find(fields, sizeof fields / sizeof fields[0], field);
    return l ? (english ? l->en : l->sv) : field;
}

const char *ui_field_hint(const char *field)
{
    const label *l = find(fields, sizeof fields / sizeof fields[0], field);
    return l ? (english ? l->hint_en : l->hint_sv) : "";
}

const char *ui_type_label(const char *type)
{
    const label *l = find(types, sizeof types / sizeof types[0], type);
    return l ? (english ? l->en : l->sv) : type;
}

/* Phrases of the field parsers and the registry, most specific first. */
static const char *const phrases[][2] = {
    {"must be a date YYYY-MM-DD that exists", "måste vara ett datum ÅÅÅÅ-MM-DD som finns"},
    {"must be a pay period YYYY-MM", "måste vara en period ÅÅÅÅ-MM"},
    {"must be a whole number (digits only)", "måste vara ett heltal (bara siffror)"},
    {"must be a percentage like 75, 62.5 or 100.00",
     "måste vara en procentsats som 75, 62.5 eller 100.00"},
    {"must be between", "måste vara mellan"},
    {"check digit mismatch", "kontrollsiffran stämmer inte"},
    {"check digits mismatch", "kontrollsiffrorna stämmer inte"},
    {"no such date", "datumet finns inte"},
    {"wrong length (10 or 12 digits)", "fel längd (10 eller 12 siffror)"},
    {"unexpected character at position", "oväntat tecken på position"},
    {"is required for a", "krävs i ett dokument av typen"},
    {"is required: the person is not in the snapshot",
     "krävs: personen finns inte i ögonblicksbilden"},
    {"is required for monthly pay (greater than 0)", "krävs vid månadslön (större än 0)"},
    {"is required for hourly pay (greater than 0)", "krävs vid timlön (större än 0)"},
    {"is required", "måste anges"},
    {"must be monthly or hourly", "måste vara monthly eller hourly"},
    {"must not be zero", "får inte vara noll"},
    {"is not a known clearing number", "är inget känt clearingnummer"},
    {"clearing and account go together", "clearing och konto anges tillsammans"},
    {"tax_table and tax_column go together", "skattetabell och skattekolumn anges tillsammans"},
    {"give tax_table and tax_column, or tax_fixed_pct",
     "ange skattetabell och skattekolumn, eller fast skatt"},
    {"no such organisation unit in the snapshot",
     "ingen sådan organisationsenhet i ögonblicksbilden"},
    {"no such employment in the snapshot or in registered hires",
     "ingen sådan anställning i ögonblicksbilden eller bland registrerade anställningar"},
    {"already exists", "finns redan"},
    {"is before", "är före"},
    {"only letters, digits, '_', '.' and '-' are allowed",
     "bara bokstäver, siffror, '_', '.' och '-' är tillåtna"},
    {"contains a control character", "innehåller ett styrtecken"},
    {"is not valid UTF-8 text", "är inte giltig UTF-8-text"},
    {"wrong passphrase for operator", "fel lösenfras för operatören"},
    {"wrong passphrase", "fel lösenfras"},
    {"signing a payment file", "signering av betalfilen"},
    {"signing the journal", "signering av journalen"},
    {"is registrar, not an approver", "är registrerare, inte attestant"},
    {"is administrator, not an approver", "är administratör, inte attestant"},
    {"needs two different people", "kräver två olika personer"},
    {"cannot be both", "kan inte vara båda"},
    {"no operator named", "ingen operatör med namnet"},
    {"in this vault", "i valvet"},
    {"is in the past (today is", "har redan passerat (idag är"},
    {"await approval", "väntar på attest"},
    {"the second approval must come from a different approver",
     "den andra attesten måste komma från en annan attestant"},
    {"another approver must release it", "en annan attestant måste attestera den"},
    {"was already approved by", "är redan attesterad av"},
    {"is already approved", "är redan attesterad"},
    {"was created by", "skapades av"},
    {"a different approver must decide on it", "en annan attestant måste besluta om det"},
    {"was registered by", "registrerades av"},
    {"registration ", "registrering "},
    {"pay run ", "lönekörning "},
    {"no such person in the snapshot or in registrations",
     "ingen sådan person i ögonblicksbilden eller bland registreringarna"},
    {"duplicate: the same", "dubblett: samma"},
    {"document is already registered as", "dokument är redan registrerat som"},
};

/* Replaces the first from in out with to, if it fits. */
static void replace(char *out, size_t cap, const char *from, const char *to)
{
    char *at = strstr(out, from);
    if (at == NULL)
        return;
    size_t fl = strlen(from), tl = strlen(to), len = strlen(out);
    if (len - fl + tl + 1 > cap)
        return; /* keep the English rather than cut a message short */
    memmove(at + tl, at + fl, len - (size_t)(at - out) - fl + 1);
    memcpy(at, to, tl);
}

const char *ui_text_translate(const char *msg, char *out, size_t cap)
{
    if (cap == 0)
        return out;
    snprintf(out, cap, "%s", msg);
    if (english)
        return out;
    for (size_t i = 0; i < sizeof phrases / sizeof phrases[0]; i++)
        replace(out, cap, phrases[i][0], phrases[i][1]);
    if (strstr(out, "mellan ")) { /* "must be between 1 and 42 percent" */
        replace(out, cap, " and ", " och ");
        replace(out, cap, " percent", " procent");
    }
    return out;
}
