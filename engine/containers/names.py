"""Container ids and names: Docker's 64-hex ids, its name rule, and adjective_surname names."""

import os
import re

from engine.containers.errors import InvalidOptionError

_VALID_NAME = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")

_LEFT_WORDS = (
    "admiring adoring affectionate agitated amazing angry awesome blissful bold boring brave "
    "busy charming clever compassionate competent confident cool cranky crazy dazzling "
    "determined distracted dreamy eager ecstatic elastic elated elegant eloquent epic exciting "
    "fervent festive flamboyant focused friendly frosty funny gallant gifted goofy gracious "
    "great happy hardcore heuristic hopeful hungry infallible inspiring intelligent jolly "
    "jovial keen kind laughing loving lucid magical modest musing mystifying naughty nervous "
    "nice nifty nostalgic objective optimistic peaceful pensive practical priceless quirky "
    "quizzical relaxed reverent romantic sad serene sharp silly sleepy stoic strange stupefied "
    "suspicious sweet tender thirsty trusting unruffled upbeat vibrant vigilant vigorous "
    "wizardly wonderful xenodochial youthful zealous zen "
)
_RIGHT_WORDS = (
    "agnesi albattani allen archimedes babbage banach bardeen bartik bassi bell benz bhabha "
    "blackwell bohr booth borg bose boyd brahmagupta brown carson cerf chandrasekhar chaum "
    "clarke colden cori cray curie darwin davinci dijkstra dubinsky easley edison einstein "
    "elion engelbart euclid euler faraday fermat fermi feynman franklin gagarin galileo gates "
    "gauss goldberg goodall hamilton hawking heisenberg hertz hodgkin hoover hopper hypatia "
    "jackson jang jennings jepsen johnson kalam kapitsa keller kepler khorana kilby knuth "
    "lamarr lamport leakey leavitt lovelace lumiere mahavira mayer mccarthy mcclintock meitner "
    "mendel mirzakhani morse moser napier nash newton nobel noether northcutt noyce panini "
    "pascal pasteur payne perlman pike poincare ptolemy raman ramanujan ride ritchie rosalind "
    "saha sammet shannon shaw shirley shockley sinoussi snyder spence stonebraker sutherland "
    "swanson tesla thompson torvalds turing varahamihira villani volhard wescoff wiles williams "
    "wilson wing wozniak wright yalow yonath zhukovsky "
)


_LEFT = tuple(_LEFT_WORDS.split())
_RIGHT = tuple(_RIGHT_WORDS.split())


def new_id() -> str:
    """A 64-hex container id, as Docker makes them."""
    return os.urandom(32).hex()


def random_name() -> str:
    """A Docker-style `adjective_surname` name."""
    # Not a secret: os.urandom avoids importing `secrets` (hashlib, hmac) on every command.
    left, right = os.urandom(2)
    return f"{_LEFT[left % len(_LEFT)]}_{_RIGHT[right % len(_RIGHT)]}"


def check_name(name: str) -> str:
    """Return the name without a leading `/`, or refuse it with Docker's message."""
    if not _VALID_NAME.match(name):
        raise InvalidOptionError(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.removeprefix("/")
