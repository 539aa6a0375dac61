/* ui_text: every string the terminal interface shows, in Swedish (default) and English.
 *
 * One table (UI_TEXTS) keeps the two languages side by side so neither can lack a string.
 * Field and document-type labels are looked up by the registry's own names; messages from
 * the library (English) are translated where a known phrase matches and shown as they are
 * otherwise, so nothing the user needs is ever hidden. */
#ifndef RL_UI_TEXT_H
#define RL_UI_TEXT_H

#include <stddef.h>

#define UI_TEXTS(X)                                                                            \
    X(T_APP, "Reservlön", "Reservlön")                                                         \
    X(T_LOGIN, "Logga in", "Log in")                                                           \
    X(T_VAULT, "Valv (katalog)", "Vault (directory)")                                          \
    X(T_NAME, "Namn", "Name")                                                                  \
    X(T_PASS, "Lösenfras", "Passphrase")                                                       \
    X(T_LOGIN_HELP, "Ange valv, ditt operatörsnamn och din lösenfras. Lösenfrasen visas inte.", \
      "Enter the vault, your operator name and your passphrase. The passphrase is not shown.") \
    X(T_LOGGING_IN, "Loggar in (kontrollerar lösenfrasen)...",                                 \
      "Logging in (checking the passphrase)...")                                               \
    X(T_LOGIN_FAILED, "Inloggningen misslyckades", "Login failed")                             \
    X(T_NEED_VALUE, "måste anges", "is required")                                              \
    X(T_KEYS_FORM, "Tab/↓ nästa  ↑ föregående  F2 Spara  Esc Avbryt",                          \
      "Tab/↓ next  ↑ previous  F2 Save  Esc Cancel")                                           \
    X(T_KEYS_LOGIN, "Tab/↓ nästa  Enter logga in  F10 Avsluta",                                \
      "Tab/↓ next  Enter log in  F10 Quit")                                                    \
    X(T_KEYS_HOME, "Siffra/Enter välj  F9 Byt operatör  F10 Avsluta",                          \
      "Digit/Enter choose  F9 Switch operator  F10 Quit")                                      \
    X(T_KEYS_LIST, "↑↓ välj  Enter öppna  Esc tillbaka", "↑↓ select  Enter open  Esc back")    \
    X(T_KEYS_PAGER, "↑↓ PgUp PgDn bläddra  Esc tillbaka", "↑↓ PgUp PgDn scroll  Esc back")     \
    X(T_KEYS_QUEUE_ITEM, "g Godkänn  a Avslå  Esc tillbaka", "a Approve  r Reject  Esc back")  \
    X(T_KEY_APPROVE, "g", "a")                                                                 \
    X(T_KEY_REJECT, "a", "r")                                                                  \
    X(T_KEY_YES, "j", "y")                                                                     \
    X(T_YESNO, "(j/n)", "(y/n)")                                                               \
    X(T_ANY_KEY, "Tryck på valfri tangent", "Press any key")                                   \
    X(T_HOME, "Start", "Home")                                                                 \
    X(T_LOGGED_IN_AS, "Inloggad", "Logged in")                                                 \
    X(T_SNAPSHOT, "Ögonblicksbild", "Snapshot")                                                \
    X(T_NO_SNAPSHOT, "ingen importerad", "none imported")                                      \
    X(T_EXPORTED, "exporterad", "exported")                                                    \
    X(T_AGE, "ålder", "age")                                                                   \
    X(T_EMPLOYEES, "Anställda", "Employees")                                                   \
    X(T_EMPLOYMENTS, "anställningar", "employments")                                           \
    X(T_REGISTRATIONS, "Registreringar", "Registrations")                                      \
    X(T_ST_REGISTERED, "väntar på attest", "awaiting approval")                                \
    X(T_ST_APPROVED, "godkända", "approved")                                                   \
    X(T_ST_REJECTED, "avslagna", "rejected")                                                   \
    X(T_ST_EXPORTED, "exporterade", "exported")                                                \
    X(T_PAYRUNS, "Lönekörningar", "Pay runs")                                                  \
    X(T_NO_PAYRUNS, "inga ännu", "none yet")                                                   \
    X(T_TOKEN, "Token", "Token")                                                               \
    X(T_TOKEN_PRESENT, "ansluten", "connected")                                                \
    X(T_TOKEN_ABSENT, "ingen ansluten", "none connected")                                      \
    X(T_TOKEN_UNKNOWN, "okänt (USB kan inte läsas)", "unknown (USB cannot be read)")           \
    X(T_MENU_REGISTER, "Registrera dokument", "Register a document")                           \
    X(T_MENU_SEARCH, "Sök anställd", "Find an employee")                                       \
    X(T_MENU_QUEUE, "Attestkö", "Approval queue")                                              \
    X(T_MENU_PAYRUNS, "Lönekörningar", "Pay runs")                                             \
    X(T_MENU_SWITCH, "Byt operatör (logga ut)", "Switch operator (log out)")                   \
    X(T_MENU_QUIT, "Avsluta", "Quit")                                                          \
    X(T_CHOOSE_TYPE, "Välj dokumenttyp", "Choose a document type")                             \
    X(T_CORRECTS, "Rättar registrering (UUID)", "Corrects registration (UUID)")                \
    X(T_CORRECTS_HINT, "Tomt för ett nytt dokument; annars UUID för det som rättas",           \
      "Empty for a new document; else the UUID of the one corrected")                          \
    X(T_SAVING, "Sparar...", "Saving...")                                                      \
    X(T_REGISTERED_OK, "Registrerat", "Registered")                                            \
    X(T_NEEDS_APPROVAL, "Status: registrerad. Ska godkännas av en annan attestant.",           \
      "Status: registered. Needs approval by another approver.")                               \
    X(T_NOTHING_SAVED, "inget har sparats", "nothing was saved")                               \
    X(T_PROBLEMS, "fel i dokumentet; inget registrerades. Rätta de markerade fälten.",         \
      "problem(s) in the document; nothing was registered. Correct the marked fields.")        \
    X(T_DISCARD, "Lämna formuläret utan att spara?", "Leave the form without saving?")         \
    X(T_QUEUE_EMPTY, "Inga registreringar väntar på attest.", "No registrations await approval.") \
    X(T_NOT_APPROVER, "Bara attestanter kan godkänna eller avslå. Byt operatör med F9.",       \
      "Only approvers can approve or reject. Switch operator with F9.")                        \
    X(T_APPROVED_OK, "Godkänd", "Approved")                                                    \
    X(T_REJECTED_OK, "Avslagen", "Rejected")                                                   \
    X(T_REASON, "Skäl", "Reason")                                                              \
    X(T_REJECT_TITLE, "Avslå registrering", "Reject registration")                             \
    X(T_COL_QUEUE, "Typ            Person         Gäller     Av         UUID",                 \
      "Type           Person         Effective  By         UUID")                               \
    X(T_DOCUMENT, "Dokument", "Document")                                                      \
    X(T_AUTHOR, "Registrerad av", "Registered by")                                             \
    X(T_RECORDED, "Registrerad", "Recorded")                                                   \
    X(T_EFFECTIVE, "Gäller från", "Effective")                                                 \
    X(T_PERSON, "Person", "Person")                                                            \
    X(T_PROTECTED, "skyddad identitet", "protected identity")                                  \
    X(T_PROTECTED_MASK, "(skyddad identitet)", "(protected identity)")                         \
    X(T_ERROR, "Fel", "Error")                                                                 \
    X(T_PAYRUN, "Lönekörning", "Pay run")                                                      \
    X(T_KEYS_PAYRUNS, "↑↓ välj  Enter granska  n Ny lönekörning  Esc tillbaka",                \
      "↑↓ select  Enter review  n New pay run  Esc back")                                      \
    X(T_COL_PAYRUNS, "  Nr Period   Utbet.dag  Policy        Status            Netto SEK",    \
      "  No Period   Pay date   Policy        Status              Net SEK")                    \
    X(T_NEW_PAYRUN, "Ny lönekörning", "New pay run")                                           \
    X(T_PERIOD, "Period", "Period")                                                            \
    X(T_PAY_DATE, "Utbetalningsdag", "Pay date")                                               \
    X(T_POLICY, "Policy", "Policy")                                                            \
    X(T_INCLUDE_PENDING, "Ta med trots väntande (j/n)", "Proceed with pending (y/n)")         \
    X(T_PERIOD_HINT, "ÅÅÅÅ-MM, t.ex. 2026-11", "YYYY-MM, e.g. 2026-11")                        \
    X(T_DATE_HINT, "ÅÅÅÅ-MM-DD, idag eller senare", "YYYY-MM-DD, today or later")              \
    X(T_POLICY_HINT, "same-as-last (som förra) eller recalculate (räkna om)",                  \
      "same-as-last or recalculate")                                                           \
    X(T_PENDING_HINT, "n: väntande registreringar stoppar körningen; j: de betalas inte",      \
      "n: pending registrations stop the run; y: they are not paid")                           \
    X(T_POLICY_BAD, "måste vara same-as-last eller recalculate",                               \
      "must be same-as-last or recalculate")                                                   \
    X(T_YESNO_BAD, "svara j eller n", "answer y or n")                                         \
    X(T_COMPUTING, "Beräknar lönekörningen...", "Computing the pay run...")                    \
    X(T_REVIEW, "Granskning", "Review")                                                        \
    X(T_STATUS, "Status", "Status")                                                            \
    X(T_CREATED_BY, "skapad av", "created by")                                                 \
    X(T_GROSS, "Brutto", "Gross")                                                              \
    X(T_TAX, "Skatt", "Tax")                                                                   \
    X(T_DEDUCTIONS, "Avdrag", "Deductions")                                                    \
    X(T_NET, "Netto", "Net")                                                                   \
    X(T_LAST_NET, "Förra körningens netto", "Last run's net")                                  \
    X(T_DIFFERENCE, "Skillnad", "Difference")                                                  \
    X(T_CHANGED, "Ändrade anställningar", "Changed employments")                              \
    X(T_WARNINGS, "Varningar", "Warnings")                                                     \
    X(T_EMPLOYMENT, "Anställning", "Employment")                                               \
    X(T_EMPLOYMENTS_N, "Anställningar", "Employments")                                         \
    X(T_CHANGED_N, "ändrade", "changed")                                                       \
    X(T_WARNINGS_N, "varningar", "warnings")                                                   \
    X(T_PRS_CREATED, "skapad, ej attesterad", "created, not approved")                         \
    X(T_PRS_APPROVED1, "attesterad en gång", "approved once")                                  \
    X(T_PRS_APPROVED, "släppt", "released")                                                    \
    X(T_RELEASE_ONE, "Kräver attest av en attestant (inte skaparen).",                         \
      "Needs release by one approver (not the creator).")                                      \
    X(T_RELEASE_TWO, "Kräver attest av två olika attestanter (inte skaparen).",                \
      "Needs release by two different approvers (not the creator).")                           \
    X(T_RELEASE_SECOND, "Väntar på en andra, annan attestant.",                                \
      "Waits for a second, different approver.")                                               \
    X(T_RELEASED, "Släppt för betalfil.", "Released for the payment file.")                    \
    X(T_KEYS_REVIEW, "↑↓ välj  Enter detaljer  v Varningar  s Attestera  b Betalfil  Esc tillbaka", \
      "↑↓ select  Enter details  w Warnings  s Approve  p Payment file  Esc back")                             \
    X(T_KEY_WARNINGS, "v", "w")                                                                \
    X(T_LAST, "Förra", "Last")                                                                 \
    X(T_NOW, "Nu", "Now")                                                                      \
    X(T_LINES, "Lönerader", "Pay lines")                                                       \
    X(T_WHY, "Varför", "Why")                                                                  \
    X(T_RELEASE_TITLE, "Attestera lönekörning", "Approve pay run")                             \
    X(T_RELEASE_HELP, "En attestant som inte skapat körningen loggar in här, på samma skärm.", \
      "An approver who did not create the run logs in here, on this screen.")                  \
    X(T_RELEASE_OK1, "Första attesten klar. En andra, annan attestant måste också attestera.", \
      "First approval done. A second, different approver must also approve.")                  \
    X(T_RELEASE_OK, "Lönekörningen är attesterad och släppt för betalfil.",                    \
      "The pay run is approved and released for the payment file.")                            \
    X(T_NOW_LOGGED_IN, "Inloggad nu", "Now logged in")                                         \
    X(T_ALREADY_RELEASED, "Lönekörningen är redan släppt.", "The pay run is already released.") \
    X(T_SEARCH, "Sök anställd", "Find an employee")                                            \
    X(T_SEARCH_FIELD, "Personnummer eller namn", "Personnummer or name")                       \
    X(T_SEARCH_HINT, "ÅÅÅÅMMDD-NNNN, eller en del av namnet (minst 2 tecken)",                 \
      "YYYYMMDD-NNNN, or part of the name (at least 2 characters)")                            \
    X(T_NO_MATCH, "Ingen träff.", "No match.")                                                 \
    X(T_BANK, "Bankkonto", "Bank account")                                                     \
    X(T_SOURCE, "Källa", "Source")                                                             \
    X(T_HISTORY, "Historik", "History")                                                        \
    X(T_FROM_TO, "från", "from")                                                               \
    X(T_TO, "till", "to")                                                                      \
    X(T_OPEN_ENDED, "tills vidare", "open-ended")                                              \
    X(T_PROTECTED_NOTE, "Skyddad identitet: namn och konto visas inte.",                       \
      "Protected identity: name and account are not shown.")                                   \
    X(T_KEYS_SEARCH, "Enter sök  Esc tillbaka", \
      "Enter search  Esc back") \
    X(T_SEARCH_INTRO, "Skyddade identiteter hittas bara på personnummer, aldrig på namn.", \
      "Protected identities are found by personnummer only, never by name.") \
    X(T_NAME_SHORT, "ange minst 2 tecken av namnet", \
      "give at least 2 characters of the name") \
    X(T_MATCHES, "Träffar", \
      "Matches") \
    X(T_COL_MATCHES, "Personnummer   Namn                                     Källa", \
      "Personnummer   Name                                     Source") \
    X(T_MORE_MATCHES, "Fler träffar finns: skriv mer av namnet.", \
      "There are more matches: type more of the name.") \
    X(T_KEY_PAYFILE, "b", \
      "p") \
    X(T_PAYFILE_TITLE, "Betalfil till token", \
      "Payment file to the token") \
    X(T_PAYFILE_HELP, "Två attestanter skriver den signerade betalfilen: du och en andra attestant som loggar in här. Sedan läggs filen på USB-token och läses tillbaka.", \
      "Two approvers write the signed payment file: you and a second approver who logs in here. Then the file is put on the USB token and read back.") \
    X(T_DIRECTORY, "Katalog", \
      "Directory") \
    X(T_DIR_HINT, "en befintlig katalog som filen och signaturen (.minisig) skrivs till", \
      "an existing directory the file and its signature (.minisig) are written to") \
    X(T_FILENAME, "Filnamn", \
      "File name") \
    X(T_FILENAME_HINT, "namnet på token också: bokstäver, siffror, . _ -", \
      "its name on the token too: letters, digits, . _ -") \
    X(T_FILENAME_BAD, "bara bokstäver, siffror, . _ - (inte . först), högst 63 tecken", \
      "letters, digits, . _ - only (not . first), at most 63 characters") \
    X(T_NOT_A_DIR, "är ingen befintlig katalog", \
      "is not an existing directory") \
    X(T_DRILL_FILE, "Övningsfil (j/n)", \
      "Drill file (y/n)") \
    X(T_DRILL_HINT, "j: en övningsfil (DRILL- i MsgId, mode=drill) som banken inte betalar", \
      "y: a drill file (DRILL- in the MsgId, mode=drill) the bank does not pay") \
    X(T_LEAVE_OUT, "Utelämna utan konto (j/n)", \
      "Leave out without account (y/n)") \
    X(T_LEAVE_OUT_HINT, "j: personer utan giltigt konto lämnas utanför och listas; de betalas på annat sätt", \
      "y: people without a valid account are left out and listed; pay them another way") \
    X(T_SECOND, "Andra attestant", \
      "Second approver") \
    X(T_NEED_APPROVER, "Två attestanter krävs: logga in som attestant (F9 på startskärmen) och försök igen.", \
      "Two approvers are needed: log in as an approver (F9 on the home screen) and try again.") \
    X(T_NOT_RELEASED, "Lönekörningen är inte släppt: två attestanter måste attestera den (s) innan betalfilen kan skrivas.", \
      "The pay run is not released: it must be approved (s) before the payment file can be written.") \
    X(T_NO_KEY, "Nyckelceremonin är inte genomförd: valvet har ingen signeringsnyckel. Två attestanter skapar den med 'reservlon key create' (docs/signing.md).", \
      "The key ceremony has not been held: the vault has no signing key. Two approvers create it with 'reservlon key create' (docs/signing.md).") \
    X(T_CONFIRM_WRITE, "Skriva betalfilen till", \
      "Write the payment file to") \
    X(T_REPLACES, "(finns redan: ersätts)", \
      "(exists: replaced)") \
    X(T_SIGNING, "Signerar och skriver betalfilen...", \
      "Signing and writing the payment file...") \
    X(T_PAYFILE_WRITTEN, "Betalfilen är skriven och signerad", \
      "The payment file is written and signed") \
    X(T_PAYMENTS, "betalningar", \
      "payments") \
    X(T_TOTAL, "summa", \
      "total") \
    X(T_SIGNED_BY, "Signerad av", \
      "Signed by") \
    X(T_KEY, "nyckel", \
      "key") \
    X(T_LEFT_OUT, "person(er) utan giltigt konto är INTE med i filen: betala dem på annat sätt", \
      "person(s) without a valid account are NOT in the file: pay them another way") \
    X(T_TOKEN_HELP, "Anslut USB-token och tryck Enter för att lägga filen på den. Esc: inte nu (filen finns kvar; 'reservlon token put' lägger den senare).", \
      "Plug in the USB token and press Enter to put the file on it. Esc: not now (the file stays; 'reservlon token put' puts it later).") \
    X(T_KEYS_TOKEN, "Enter lägg på token  Esc tillbaka", \
      "Enter put on the token  Esc back") \
    X(T_KEYS_TOKEN_LO, "Enter lägg på token  v Utelämnade  Esc tillbaka", \
      "Enter put on the token  w Left out  Esc back") \
    X(T_KEYS_DONE_LO, "v Utelämnade  Esc tillbaka", \
      "w Left out  Esc back") \
    X(T_SHOW_LEFT_OUT, "v visar vilka", \
      "w shows who") \
    X(T_EXEC_DATE, "utbetalningsdag", \
      "execution date") \
    X(T_IN_FILE, "i filen", \
      "in the file") \
    X(T_EXPORTED_AT, "Exporterad", \
      "Exported") \
    X(T_KEYS_DONE, "Esc tillbaka", \
      "Esc back") \
    X(T_NO_TOKEN, "Ingen token ansluten. Anslut USB-token och tryck Enter igen.", \
      "No token is plugged in. Plug in the USB token and press Enter again.") \
    X(T_TOKEN_MANY, "Flera token är anslutna: låt bara en sitta kvar och tryck Enter igen.", \
      "Several tokens are plugged in: leave only one and press Enter again.") \
    X(T_CONFIRM_TOKEN, "Lägga filen på token", \
      "Put the file on token") \
    X(T_BAR_PUT, "Skriver", \
      "Writing") \
    X(T_BAR_VERIFY, "Läser tillbaka", \
      "Reading back") \
    X(T_TOKEN_FAILED, "Filen lades inte på token", \
      "The file was not put on the token") \
    X(T_TOKEN_DONE, "Filen ligger på token, tillbakaläst och kontrollerad.", \
      "The file is on the token, read back and checked.") \
    X(T_ON_TOKEN, "På token", \
      "On token") \
    X(T_SIZE, "storlek", \
      "size") \
    X(T_BYTES, "byte", \
      "bytes") \
    X(T_COUNTER, "räknare", \
      "counter") \
    X(T_CLASS, "klass", \
      "class") \
    X(T_CLASS_DRILL, "övning", \
      "drill") \
    X(T_CLASS_PROD, "skarp", \
      "production") \
    X(T_MENU_JOURNAL, "Exportera journal", \
      "Export the journal") \
    X(T_JOURNAL_HELP, "Journalen (registreringar, beslut, lönekörningar, betalfiler) signeras av två attestanter: du och en andra attestant som loggar in här. Varje export börjar med den förra, oförändrad.", \
      "The journal (registrations, decisions, pay runs, payment files) is signed by two approvers: you and a second approver who logs in here. Each export starts with the previous one, unchanged.") \
    X(T_FILE, "Fil", \
      "File") \
    X(T_JOURNAL_HINT, "sökväg till journalfilen (.minisig skrivs bredvid)", \
      "path of the journal file (.minisig is written beside it)") \
    X(T_PARENT_MISSING, "katalogen finns inte", \
      "the directory does not exist") \
    X(T_CONFIRM_JOURNAL, "Skriva journalen till", \
      "Write the journal to") \
    X(T_EXPORTING, "Exporterar, signerar och kontrollerar journalen...", \
      "Exporting, signing and checking the journal...") \
    X(T_JOURNAL_DONE, "Journalen är exporterad och kontrollerad", \
      "The journal is exported and checked") \
    X(T_IS_DIR, "är en katalog: ange ett filnamn", \
      "is a directory: give a file name") \
    X(T_JLINES, "Rader", \
      "Lines") \
    X(T_LINES_N, "rader", \
      "lines") \
    X(T_NEW, "nya", \
      "new") \
    X(T_NOTHING_NEW, "inget nytt sedan förra exporten", \
      "nothing new since the last export") \
    X(T_CONTENTS, "Innehåll", \
      "Contents") \
    X(T_LAST_HASH, "Sista radens hash", \
      "Last line's hash") \
    X(T_CHECK, "Kontroll", \
      "Check") \
    X(T_VERIFY_OK, "signaturen, varje rad, hashkedjan och den signerade kommentaren stämmer", \
      "the signature, every line, the hash chain and the signed comment are right") \
    X(T_VAULT_ID, "Valv-id", \
      "Vault id") \
    X(T_K_SNAPSHOT, "ögonblicksbild", \
      "snapshot") \
    X(T_K_REGISTRATION, "registreringar", \
      "registrations") \
    X(T_K_DECISION, "beslut", \
      "decisions") \
    X(T_K_PAYRUN, "lönekörningar", \
      "pay runs") \
    X(T_K_PAYFILE, "betalfiler", \
      "payment files") \
    X(T_WORKING, "Arbetar...", "Working...")

typedef enum {
#define X(id, sv, en) id,
    UI_TEXTS(X)
#undef X
        T__COUNT
} ui_text_id;

/* Chooses the language: "sv" or "en" from --lang; with lang NULL, English if the LANG
 * environment variable starts with "en", Swedish otherwise. Returns 0, or -1 for an
 * unknown lang (the language is left unchanged). */
int ui_text_lang(const char *lang);

/* 1 when English is chosen. */
int ui_text_english(void);

/* The string for id in the chosen language. */
const char *ui_t(ui_text_id id);

/* Labels and input hints for the registry's field names and document types, in the chosen
 * language; the name itself for one the table does not know. */
const char *ui_field_label(const char *field);
const char *ui_field_hint(const char *field);
const char *ui_type_label(const char *type);

/* A library message (English) in the chosen language: known phrases replaced, into out;
 * returns out. Unknown phrases stay as they are. */
const char *ui_text_translate(const char *msg, char *out, size_t cap);

#endif
